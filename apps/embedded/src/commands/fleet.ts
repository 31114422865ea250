import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderFleetReportHtml, runFleet, type FleetReport, type ScenarioName } from '@rampart/emulator';
import { CertificateAuthority, DEVELOPMENT_TLS_CA, readIfPresent } from '@rampart/trust';
import { ApiClient } from '@rampart/api-client';
import { claimDevices, warnWithoutRoot } from './claim-devices.js';
import { endProgress, printReport, progressPrinter, type OutputFormat } from '../output.js';

export interface FleetRunOptions {
  readonly gateway: string;
  readonly pkiDir: string;
  readonly devices: number;
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
  const report: FleetReport = await runFleet({
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
  });
  endProgress();
  const written = await writeFleetReports(report, options.reportDir);
  const { deviceIds, timeline, events, ...summary } = report;
  void timeline;
  void events;
  printReport(options.output, { ...summary, deviceIds }, () =>
    [
      `Devices connected  ${report.devicesConnected}/${report.devices}`,
      `Devices attested   ${report.devicesAttested}/${report.devices}  (failures ${report.attestationFailures})`,
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
