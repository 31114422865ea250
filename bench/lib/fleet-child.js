// A fleet in its own process, so its memory per device can be measured:
// the platform's emulated devices (secure OS, mTLS, attestation, QoS 1
// telemetry). Prints one JSON line: the fleet report and memory figures.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runFleet } from '@rampart/emulator';
import { CertificateAuthority } from '@rampart/trust';

const e = process.env;
const devices = Number(e.FLEET_DEVICES);
const pkiDir = e.FLEET_PKI_DIR;
const manufacturerCa = await CertificateAuthority.load({
  certificatePem: await readFile(join(pkiDir, 'manufacturer-ca.crt'), 'utf8'),
  privateKeyPem: await readFile(join(pkiDir, 'manufacturer-ca.key'), 'utf8'),
});
const rss = () => process.memoryUsage().rss;
globalThis.gc?.();
const rssBefore = rss();
let rssHeld;
let heldAtMs;
const report = await runFleet({
  devices,
  ratePerDevice: Number(e.FLEET_RATE),
  durationMs: Number(e.FLEET_DURATION_MS),
  metricsPerReading: 4,
  endpoint: { kind: 'tls', host: '127.0.0.1', port: Number(e.FLEET_GATEWAY_PORT), servername: 'localhost' },
  manufacturerCa,
  gatewayCaPem: await readFile(join(pkiDir, 'platform-ca.crt'), 'utf8'),
  connectRatePerSec: Number(e.FLEET_CONNECT_RATE),
  onProgress: (p) => {
    if (rssHeld === undefined && p.attested === devices) {
      rssHeld = rss();
      heldAtMs = p.elapsedMs;
    }
  },
  beforeStart: async (made) => {
    for (const device of made) {
      const r = await fetch(`${e.FLEET_API}/v1/devices/${device.security.deviceId}/claim`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${e.FLEET_TOKEN}` },
      });
      if (r.status !== 200) throw new Error(`claim: ${r.status}`);
    }
  },
});
const { timeline, events, sampleCertificate, ...summary } = report;
void events;
// When the whole fleet first held operational certificates: the end of the connect-and-attest storm.
const attestedAt = timeline.find((p) => p.attested === devices)?.t ?? null;
void sampleCertificate;
process.stdout.write(
  `${JSON.stringify({ report: summary, attestedAfterS: attestedAt, memory: { rssBefore, rssHeld: rssHeld ?? null, heldAtMs: heldAtMs ?? null, bytesPerDevice: rssHeld === undefined ? null : Math.round((rssHeld - rssBefore) / devices) } })}\n`,
);
