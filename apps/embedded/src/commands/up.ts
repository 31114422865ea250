import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { runFleet, type FleetReport } from '@rampart/emulator';
import { claimDevices, warnWithoutRoot } from './claim-devices.js';
import { writeFleetReports } from './fleet.js';
import { closeOnSignals, createLogger } from '@rampart/service-kit';
import { startEmbeddedPlatform, type EmbeddedPlatform } from '../embedded-platform.js';
import { endProgress, printReport, progressPrinter, type OutputFormat } from '../output.js';

export interface UpOptions {
  readonly fleet: boolean;
  readonly devices: number;
  readonly rate: number;
  readonly durationMs: number;
  readonly metrics: number;
  readonly once: boolean;
  readonly dataDir: string;
  readonly report: string;
  /** Where each part listens (DEFAULT_PORTS; 0: any free port). `apiPort` is the API front's: the one base URL. */
  readonly mqttPort: number;
  readonly apiPort: number;
  readonly telemetryPort: number;
  readonly attestationPort: number;
  readonly failuresPort: number;
  readonly updatesPort: number;
  readonly updatesDevicePort: number;
  readonly gatewayHttpPort: number;
  readonly output: OutputFormat;
}

/** How long to wait for acknowledged readings to be committed before calling them lost. */
const RECONCILE_TIMEOUT_MS = 60_000;

export interface DemoReport {
  readonly devices: number;
  readonly devicesConnected: number;
  readonly devicesAttested: number;
  readonly attestationFailures: number;
  readonly telemetryPublished: number;
  readonly telemetryAcknowledged: number;
  readonly telemetryStored: number;
  readonly rowsStored: number;
  readonly lost: number;
  readonly unacknowledged: number;
  readonly reconnects: number;
  readonly durationMs: number;
  readonly acknowledgedPerSecond: number;
  readonly ackLatencyMs: FleetReport['ackLatencyMs'];
  readonly bus: string;
  readonly database: 'embedded' | 'external';
  readonly ok: boolean;
}

async function reconcile(platform: EmbeddedPlatform, fleet: FleetReport): Promise<{ readings: number; rows: number }> {
  const deadline = Date.now() + RECONCILE_TIMEOUT_MS;
  for (;;) {
    const stored = await platform.telemetry.repository.storedForDevices(fleet.deviceIds);
    if (stored.readingsStored >= fleet.acknowledged || Date.now() > deadline) {
      return { readings: stored.readingsStored, rows: stored.rowsStored };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function up(options: UpOptions): Promise<number> {
  const logLevel = (process.env['LOG_LEVEL'] ?? 'warn') as 'warn';
  const platform = await startEmbeddedPlatform(
    {
      dataDir: options.dataDir,
      databaseUrl: process.env['DATABASE_URL'] || undefined,
      natsUrl: process.env['NATS_URL'] || undefined,
      busPrefix: process.env['BUS_PREFIX'] ?? '',
      mqttPort: options.mqttPort,
      apiPort: options.apiPort,
      telemetryApiPort: options.telemetryPort,
      attestationApiPort: options.attestationPort,
      failuresApiPort: options.failuresPort,
      updatesApiPort: options.updatesPort,
      updatesDevicePort: options.updatesDevicePort,
      gatewayHttpPort: options.gatewayHttpPort,
      devListenerPort: undefined,
      // Each demo device publishes `rate` per second; leave headroom for resends.
      deviceRatePerSec: Math.max(20, Math.ceil(options.rate * 4)),
    },
    (service) => createLogger(service, logLevel),
  );
  const where = [
    `Rampart is up (bus: ${platform.bus.kind}, database: ${platform.database.embedded ? 'embedded PGlite' : 'external PostgreSQL'})`,
    // The one URL an operator needs first: every REST API behind it.
    `  API  ${platform.api.url}/v1   OpenAPI ${platform.api.url}/docs  (tenant "${platform.tenant.id}" token in ${options.dataDir}/secrets)`,
    `  MQTT over TLS   mqtts://127.0.0.1:${platform.gateway.mqttPort}  (device certificates from ${platform.pkiDir}/manufacturer-ca.crt)`,
    `  Update devices  https://127.0.0.1:${platform.updates.devicePort}  (mutual TLS)`,
    `  Behind the API  attestation ${platform.attestation.url}  telemetry ${platform.telemetry.url}  failures ${platform.failures.url}  updates ${platform.updates.url}`,
    `  Metrics         ${platform.api.url}/metrics  ${platform.gateway.url}/metrics  ${platform.telemetry.url}/metrics`,
  ].join('\n');
  process.stderr.write(`${where}\n`);

  let exitCode = 0;
  if (options.fleet) {
    process.stderr.write(`Running ${options.devices} devices at ${options.rate}/s each for ${options.durationMs / 1000}s …\n`);
    const fleet = await runFleet({
      devices: options.devices,
      ratePerDevice: options.rate,
      durationMs: options.durationMs,
      metricsPerReading: options.metrics,
      endpoint: { kind: 'tls', host: '127.0.0.1', port: platform.gateway.mqttPort, servername: 'localhost' },
      manufacturerCa: platform.pki.manufacturerCa,
      gatewayCaPem: platform.pki.platformCa.certificatePem,
      onProgress: progressPrinter(),
      // The tenant claims its devices before they first connect, as an operator would.
      beforeStart: async (devices) => {
        warnWithoutRoot(await claimDevices(platform.platformClient, platform.tenant.adminToken, devices));
      },
    });
    endProgress();
    const stored = await reconcile(platform, fleet);
    const lost = Math.max(0, fleet.acknowledged - stored.readings);
    const report: DemoReport = {
      devices: fleet.devices,
      devicesConnected: fleet.devicesConnected,
      devicesAttested: fleet.devicesAttested,
      attestationFailures: fleet.attestationFailures,
      telemetryPublished: fleet.published,
      telemetryAcknowledged: fleet.acknowledged,
      telemetryStored: stored.readings,
      rowsStored: stored.rows,
      lost,
      unacknowledged: fleet.unacknowledged,
      reconnects: fleet.reconnects,
      durationMs: fleet.durationMs,
      acknowledgedPerSecond: fleet.acknowledgedPerSecond,
      ackLatencyMs: fleet.ackLatencyMs,
      bus: platform.bus.kind,
      database: platform.database.embedded ? 'embedded' : 'external',
      ok: lost === 0 && fleet.unacknowledged === 0 && fleet.devicesConnected === fleet.devices && fleet.devicesAttested === fleet.devices,
    };
    const reportPath = resolve(options.report);
    await mkdir(dirname(reportPath), { recursive: true });
    await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`);
    await writeFleetReports(fleet, dirname(reportPath));
    if (fleet.sampleCertificate !== undefined) {
      // Public material to inspect: openssl verify -x509_strict -purpose sslclient -CAfile <root> -untrusted <chain> <certificate>
      const dir = dirname(reportPath);
      await writeFile(join(dir, 'device-certificate.pem'), fleet.sampleCertificate.certificatePem);
      await writeFile(join(dir, 'ca-chain.pem'), fleet.sampleCertificate.chainPem);
      await writeFile(join(dir, 'platform-root.pem'), platform.pki.platformCa.certificatePem);
    }
    printReport(options.output, report, () =>
      [
        `Devices connected      ${report.devicesConnected}/${report.devices}`,
        `Devices attested       ${report.devicesAttested}/${report.devices}  (failures ${report.attestationFailures})`,
        `Telemetry published    ${report.telemetryPublished}`,
        `  acknowledged         ${report.telemetryAcknowledged}`,
        `  stored               ${report.telemetryStored}  (${report.rowsStored} rows)`,
        `  lost                 ${report.lost}`,
        `  unacknowledged       ${report.unacknowledged}`,
        `Ack latency ms         p50 ${report.ackLatencyMs.p50}  p95 ${report.ackLatencyMs.p95}  p99 ${report.ackLatencyMs.p99}`,
        `Report                 ${reportPath}`,
      ].join('\n'),
    );
    if (!report.ok) exitCode = 1;
  }
  if (options.once) {
    await platform.close();
    return exitCode;
  }
  process.stderr.write('Serving until Ctrl-C.\n');
  closeOnSignals(
    () => platform.close(),
    (error) => process.stderr.write(`shutdown failed: ${String(error)}\n`),
  );
  return new Promise<number>(() => undefined);
}
