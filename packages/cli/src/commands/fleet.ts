import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runFleet, type FleetReport } from '@rampart/emulator';
import { CertificateAuthority } from '@rampart/trust';
import { endProgress, print, progressPrinter, type OutputFormat } from '../output.js';

export interface FleetRunOptions {
  readonly gateway: string;
  readonly pkiDir: string;
  readonly devices: number;
  readonly rate: number;
  readonly durationMs: number;
  readonly metrics: number;
  readonly output: OutputFormat;
}

function parseHostPort(text: string): { host: string; port: number } {
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
  const gatewayCaPem = await readFile(join(options.pkiDir, 'platform-ca.crt'), 'utf8');
  const report: FleetReport = await runFleet({
    devices: options.devices,
    ratePerDevice: options.rate,
    durationMs: options.durationMs,
    metricsPerReading: options.metrics,
    endpoint: { kind: 'tls', host, port, servername: 'localhost' },
    manufacturerCa,
    gatewayCaPem,
    onProgress: progressPrinter(),
  });
  endProgress();
  const { deviceIds, ...summary } = report;
  print(options.output, { ...summary, deviceIds }, () =>
    [
      `Devices connected  ${report.devicesConnected}/${report.devices}`,
      `Published          ${report.published}`,
      `Acknowledged       ${report.acknowledged}  (${report.acknowledgedPerSecond}/s)`,
      `Unacknowledged     ${report.unacknowledged}`,
      `Reconnects         ${report.reconnects}`,
      `Ack latency ms     p50 ${report.ackLatencyMs.p50}  p95 ${report.ackLatencyMs.p95}  p99 ${report.ackLatencyMs.p99}`,
    ].join('\n'),
  );
  return report.unacknowledged === 0 && report.devicesConnected === report.devices ? 0 : 1;
}
