// A share of the rollout bench's fleet in its own process. One Node
// process is one thread: a fleet of 1,000 devices verifying, hashing and
// booting megabyte images saturates it long before the machine, so the
// bench splits the fleet over one process per core. Talks to the bench
// over IPC: progress while it runs, its report when told to stop.
import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { provisionUpdateRoot, runFleet } from '@rampart/emulator';
import { CertificateAuthority, ImageSigner } from '@rampart/trust';

const e = process.env;
const pkiDir = e.FLEET_PKI_DIR;
const manufacturerCa = await CertificateAuthority.load({
  certificatePem: await readFile(join(pkiDir, 'manufacturer-ca.crt'), 'utf8'),
  privateKeyPem: await readFile(join(pkiDir, 'manufacturer-ca.key'), 'utf8'),
});
// The bench signs the updates, so the factory firmware must trust its keys.
const signer = async (name) => ImageSigner.fromPrivateKey(createPrivateKey(await readFile(join(pkiDir, name), 'utf8')));
const firmwareSigners = { platform: await signer('firmware-platform.key'), apps: await signer('firmware-apps.key') };
const stop = new AbortController();
process.on('message', (m) => m === 'stop' && stop.abort());
process.on('disconnect', () => stop.abort());

async function call(url, method) {
  const r = await fetch(url, { method, headers: { authorization: `Bearer ${e.FLEET_TOKEN}` } });
  if (r.status >= 300) throw new Error(`${method} ${url}: ${r.status} ${await r.text()}`);
  return r.status === 204 ? undefined : r.json();
}

const report = await runFleet({
  devices: Number(e.FLEET_DEVICES),
  ratePerDevice: 0,
  durationMs: 900_000,
  metricsPerReading: 1,
  endpoint: { kind: 'tls', host: '127.0.0.1', port: Number(e.FLEET_GATEWAY_PORT), servername: 'localhost' },
  manufacturerCa,
  gatewayCaPem: await readFile(join(pkiDir, 'platform-ca.crt'), 'utf8'),
  apps: ['sensor'],
  firmwareSigners,
  appConfig: { sensor: { intervalMs: 1_000, crashRate: 1 } },
  healthWindowMs: 2_500,
  heartbeatIntervalMs: 600_000,
  reconnectSpreadMs: 2_000,
  updates: {
    server: { host: '127.0.0.1', port: Number(e.FLEET_UPDATES_PORT), servername: 'localhost' },
    client: { requestDeadlineMs: 60_000, resumeAttempts: 3 },
  },
  // Once a second.
  onProgress: (p) => process.send({ progress: { attested: p.attested, online: p.online } }),
  beforeStart: async (devices) => {
    for (const device of devices) {
      // A device trusts only the update root it is given at claim (TUF §5.2): without it, it refuses every update.
      const claimed = await call(`${e.FLEET_ATTESTATION_API}/v1/devices/${device.security.deviceId}/claim`, 'PUT');
      if (typeof claimed?.updateRoot !== 'string') throw new Error('claim answered no update root: is the updates service up?');
      provisionUpdateRoot(device.security.store, device.security.deviceId, claimed.updateRoot);
      await call(`${e.FLEET_UPDATES_API}/v1/device-groups/${e.FLEET_GROUP}/devices/${device.security.deviceId}`, 'PUT');
    }
  },
  signal: stop.signal,
});
const { timeline, events, sampleCertificate, ...summary } = report;
void timeline;
void events;
void sampleCertificate;
process.send({ report: summary }, () => process.disconnect());
