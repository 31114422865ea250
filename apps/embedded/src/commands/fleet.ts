import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderFleetReportHtml, runFleet, type FleetReport, type ScenarioName, type TpmVendorCa } from '@rampart/emulator';
import {
  CertificateAuthority,
  DEVELOPMENT_TLS_CA,
  DEVELOPMENT_TPM_VENDOR_CA,
  loadOrCreateTpmVendorCa,
  readIfPresent,
} from '@rampart/trust';
import { ApiClient } from '@rampart/api-client';
import { claimDevices, warnWithoutRoot } from './claim-devices.js';
import { endProgress, printReport, progressPrinter, type OutputFormat } from '../output.js';

export interface FleetRunOptions {
  readonly gateway: string;
  readonly pkiDir: string;
  readonly devices: number;
  /** Of `devices`, those with a TPM 2.0 (default none). */
  readonly tpmDevices?: number;
  readonly rate: number;
  readonly durationMs: number;
  readonly metrics: number;
  /** Attestation API and a tenant Administrator token to claim the devices with. */
  readonly api: string;
  /** Absent when neither --token nor RAMPART_TOKEN gave one. */
  readonly token?: string | undefined;
  readonly output: OutputFormat;
  readonly scenario: ScenarioName;
  /** Where fleet-report.json and fleet-report.html go. */
  readonly reportDir: string;
}

/** Writes the JSON report and the HTML page with charts; returns their paths. */
export async function writeFleetReports(report: FleetReport, dir: string): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, 'fleet-report.json');
  const html = join(dir, 'fleet-report.html');
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(html, renderFleetReportHtml(report));
  return { json, html };
}

export function parseHostPort(text: string): { host: string; port: number } {
  const match = /^(.+):(\d+)$/.exec(text);
  if (match === null) throw new Error(`--gateway must be host:port, got "${text}"`);
  return { host: match[1] ?? '', port: Number(match[2]) };
}

/**
 * The development TPM vendor CA of the PKI folder (`tpm-vendor-ca.crt` and `.key`, part of the development PKI that
 * `rampart up` makes and trusts as `TPM_VENDOR_CA_FILE`): it certifies the emulated TPMs' EKs. A folder from before
 * it was part of that PKI gets one here, and the platform must be restarted to trust it.
 */
export async function tpmVendorCaOf(pkiDir: string): Promise<TpmVendorCa & { readonly certificateFile: string; readonly made: boolean }> {
  const certificateFile = join(pkiDir, `${DEVELOPMENT_TPM_VENDOR_CA}.crt`);
  const made = (await readIfPresent(certificateFile)) === undefined;
  const exported = await (await loadOrCreateTpmVendorCa(pkiDir)).export();
  // swtpm_localca reads the key where it is kept: no device's folder gets a copy.
  return { certificatePem: exported.certificatePem, keyFile: join(pkiDir, `${DEVELOPMENT_TPM_VENDOR_CA}.key`), certificateFile, made };
}

/** Runs an emulated fleet against a gateway that is already running. */
export async function fleetRun(options: FleetRunOptions): Promise<number> {
  const { host, port } = parseHostPort(options.gateway);
  const manufacturerCa = await CertificateAuthority.load({
    certificatePem: await readFile(join(options.pkiDir, 'manufacturer-ca.crt'), 'utf8'),
    privateKeyPem: await readFile(join(options.pkiDir, 'manufacturer-ca.key'), 'utf8'),
  });
  // The development CA that signed the gateway's certificate: the platform CA's, or with keys in a token the TLS CA.
  const gatewayCas = await Promise.all([`platform-ca.crt`, `${DEVELOPMENT_TLS_CA}.crt`].map((f) => readIfPresent(join(options.pkiDir, f))));
  const gatewayCaPem = gatewayCas.filter((pem) => pem !== undefined).join('');
  if (gatewayCaPem === '') throw new Error(`no platform-ca.crt or ${DEVELOPMENT_TLS_CA}.crt in ${options.pkiDir}: the gateway's CA`);
  const tpmDevices = options.tpmDevices ?? 0;
  let tpm: { devices: number; vendor: TpmVendorCa; dir: string } | undefined;
  if (tpmDevices > 0) {
    const vendor = await tpmVendorCaOf(options.pkiDir);
    process.stderr.write(
      `TPM devices: their EKs are certified by ${vendor.certificateFile} (the attestation service's TPM_VENDOR_CA_FILE)` +
        `${vendor.made ? ', made now: restart the platform so that it trusts it' : ''}\n`,
    );
    tpm = { devices: tpmDevices, vendor, dir: await mkdtemp(join(tmpdir(), 'rampart-fleet-tpm-')) };
  }
  const report: FleetReport = await runFleet({
    ...(tpm === undefined ? {} : { tpm }),
    devices: options.devices,
    ratePerDevice: options.rate,
    durationMs: options.durationMs,
    metricsPerReading: options.metrics,
    endpoint: { kind: 'tls', host, port, servername: 'localhost' },
    manufacturerCa,
    gatewayCaPem,
    scenario: options.scenario,
    onProgress: progressPrinter(),
    beforeStart: async (devices) => {
      if (!options.token) {
        process.stderr.write('no --token: devices are not claimed and will fail attestation (DEVICE_UNCLAIMED)\n');
        return;
      }
      warnWithoutRoot(await claimDevices(new ApiClient(options.api.replace(/\/$/, '')), options.token, devices));
    },
  }).finally(() => (tpm === undefined ? undefined : rm(tpm.dir, { recursive: true, force: true })));
  endProgress();
  const written = await writeFleetReports(report, options.reportDir);
  const { deviceIds, timeline, events, ...summary } = report;
  void timeline;
  void events;
  printReport(options.output, { ...summary, deviceIds }, () =>
    [
      `Devices connected  ${report.devicesConnected}/${report.devices}`,
      `Devices attested   ${report.devicesAttested}/${report.devices}  (failures ${report.attestationFailures})`,
      ...(report.tpmDevices > 0 ? [`TPM devices        ${report.tpmDevices}`] : []),
      ...(report.attestorErrors > 0 ? [`Attestor errors    ${report.attestorErrors}  (last: ${report.lastAttestorError})`] : []),
      ...(report.attestationPublishesDropped > 0
        ? [`Attest. not sent   ${report.attestationPublishesDropped}  (MQTT publish failed)`]
        : []),
      `Published          ${report.published}`,
      `Acknowledged       ${report.acknowledged}  (${report.acknowledgedPerSecond}/s)`,
      `Unacknowledged     ${report.unacknowledged}`,
      `Reconnects         ${report.reconnects}`,
      `Ack latency ms     p50 ${report.ackLatencyMs.p50}  p95 ${report.ackLatencyMs.p95}  p99 ${report.ackLatencyMs.p99}`,
      `Reboots            ${report.reboots}   failure reports ${report.failureReportsSent}`,
      `Report             ${written.html} (and ${written.json})`,
    ].join('\n'),
  );
  return report.unacknowledged === 0 && report.devicesConnected === report.devices && report.devicesAttested === report.devices ? 0 : 1;
}
