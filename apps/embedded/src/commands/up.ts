import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { runFleet, type FleetReport } from '@rampart/emulator';
import { demoFleetOptions } from '../demo-fleet.js';
import { runRolloutScenario, type RolloutReport } from '../rollout-scenario.js';
import { writeFleetReports } from './fleet.js';
import { ConfigError, LOG_LEVELS, closeOnSignals, createLogger, type LogLevel } from '@rampart/service-kit';
import { startEmbeddedPlatform, type EmbeddedKeys, type EmbeddedPlatform } from '../embedded-platform.js';
import { endProgress, printReport, progressPrinter, type OutputFormat } from '../output.js';
import type { UpScenario } from '../up-scenarios.js';

export interface UpOptions {
  readonly fleet: boolean;
  readonly devices: number;
  readonly rate: number;
  readonly durationMs: number;
  readonly metrics: number;
  readonly once: boolean;
  readonly dataDir: string;
  /** Where the signing keys live: software (sealed in the database) or pkcs11 (a SoftHSM2 token under the data folder). */
  readonly keys: EmbeddedKeys;
  /** Default: reports/demo.json, or reports/rollout.json for the rollout scenario. */
  readonly report: string | undefined;
  /** What `--fleet` runs: steady telemetry, or the rollout demo (which runs its own fleet). */
  readonly scenario: UpScenario;
  /** The rollout demo's waves: cumulative percents of the group. */
  readonly waves: readonly number[];
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

const DEFAULT_REPORT: Readonly<Record<UpScenario, string>> = { telemetry: 'reports/demo.json', rollout: 'reports/rollout.json' };

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

function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

export async function up(options: UpOptions): Promise<number> {
  const logLevel = process.env['LOG_LEVEL'] || 'warn';
  if (!isLogLevel(logLevel)) throw new ConfigError('rampart up', [{ key: 'LOG_LEVEL', message: `one of ${LOG_LEVELS.join(', ')}` }]);
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
      logLevel,
      keys: options.keys,
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
    platform.keys.token === undefined
      ? `  CA keys         sealed in the database (--keys pkcs11: in a SoftHSM2 token)`
      : `  CA keys         in the SoftHSM2 token "${platform.keys.token.tokenLabel}" (${platform.keys.token.tokenDir}); offline root ${platform.keys.platformRootFile} (DEVELOPMENT ceremony)`,
    `  Signing keys    ${platform.firmware.platform.privateKeyFile} (OS, bootloader, security monitor), ${platform.firmware.apps.privateKeyFile} (apps): the demo devices trust images packed with them (rampart image pack --key …)`,
  ].join('\n');
  process.stderr.write(`${where}\n`);

  // Ctrl-C stops the fleet (it goes on after its report unless --once) before the platform closes.
  const keep = new AbortController();
  let fleetDone: Promise<unknown> = Promise.resolve();
  let exitCode = 0;
  if (options.scenario === 'rollout') {
    const run = await rolloutDemo(platform, options, options.once ? undefined : keep.signal);
    fleetDone = run.fleet;
    exitCode = run.ok ? 0 : 1;
  } else if (options.fleet) {
    process.stderr.write(`Running ${options.devices} devices at ${options.rate}/s each for ${options.durationMs / 1000}s …\n`);
    const report = new Promise<DemoReport>((resolveReport, rejectReport) => {
      const written = (fleet: FleetReport) => telemetryReport(platform, fleet, options).then(resolveReport, rejectReport);
      fleetDone = runFleet({
        ...demoFleetOptions(platform),
        devices: options.devices,
        ratePerDevice: options.rate,
        durationMs: options.durationMs,
        metricsPerReading: options.metrics,
        onProgress: progressPrinter(),
        // Without --once the devices go on publishing and checking for updates after the report, until Ctrl-C.
        ...(options.once ? {} : { continueUntil: keep.signal, onReport: written }),
      }).then(async (fleet) => {
        if (options.once) await written(fleet);
      }, rejectReport);
    });
    if (!(await report).ok) exitCode = 1;
  }
  if (options.once) {
    await fleetDone;
    await platform.close();
    return exitCode;
  }
  process.stderr.write(`Serving until Ctrl-C${options.fleet || options.scenario === 'rollout' ? ' (the demo fleet goes on)' : ''}.\n`);
  closeOnSignals(
    async () => {
      keep.abort();
      await fleetDone.catch(() => undefined);
      await platform.close();
    },
    (error) => process.stderr.write(`shutdown failed: ${String(error)}\n`),
  );
  return new Promise<number>(() => undefined);
}

/** The telemetry demo's report: what the fleet published against what the platform stored; written, printed, returned. */
async function telemetryReport(platform: EmbeddedPlatform, fleet: FleetReport, options: UpOptions): Promise<DemoReport> {
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
  const reportPath = resolve(options.report ?? DEFAULT_REPORT.telemetry);
  await mkdir(dirname(reportPath), { recursive: true });
  await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`);
  await writeFleetReports(fleet, dirname(reportPath));
  if (fleet.sampleCertificate !== undefined) {
    // Public material to inspect: openssl verify -x509_strict -purpose sslclient -CAfile <root> -untrusted <chain> <certificate>
    const dir = dirname(reportPath);
    await writeFile(join(dir, 'device-certificate.pem'), fleet.sampleCertificate.certificatePem);
    await writeFile(join(dir, 'ca-chain.pem'), fleet.sampleCertificate.chainPem);
    await writeFile(join(dir, 'platform-root.pem'), await readFile(platform.keys.platformRootFile));
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
  return report;
}

/** The rollout demo: run, report written and printed; a run that broke off is a report with ok false and why. */
async function rolloutDemo(
  platform: EmbeddedPlatform,
  options: UpOptions,
  keepFleetUntil: AbortSignal | undefined,
): Promise<{ ok: boolean; fleet: Promise<unknown> }> {
  const reportPath = resolve(options.report ?? DEFAULT_REPORT.rollout);
  await mkdir(dirname(reportPath), { recursive: true });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let written: { report: RolloutReport | { scenario: 'rollout'; problems: string[]; ok: false }; fleet: Promise<unknown> };
  try {
    written = await runRolloutScenario(platform, {
      devices: options.devices,
      percents: options.waves,
      log,
      ...(keepFleetUntil === undefined ? {} : { keepFleetUntil }),
    });
  } catch (error) {
    written = { report: { scenario: 'rollout', problems: [(error as Error).message], ok: false }, fleet: Promise.resolve() };
  }
  const { report } = written;
  await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`);
  printReport(options.output, report, () =>
    'os' in report
      ? [
          `OS ${report.os.version}          ${report.os.state} in ${(report.os.durationMs / 1000).toFixed(1)} s: ${report.os.waves.map((w) => `wave ${w.wave} ${w.devices} devices`).join(', ')}; ${report.os.devicesByState['installed'] ?? 0}/${report.devices} installed`,
          `Sensor ${report.app.version}    ${report.app.state}${report.app.reason === null ? '' : ` (${report.app.reason})`}; waves touched: ${report.app.touchedWaves.join(', ')}; crash-free ${report.app.crashFree === null ? 'unknown' : `${report.app.crashFree.crashFreeDevices}/${report.app.crashFree.devices}`}`,
          `Result            ${report.ok ? 'ok' : `NOT ok: ${report.problems.join('; ')}`} (${(report.durationMs / 1000).toFixed(1)} s)`,
          `Report            ${reportPath}`,
        ].join('\n')
      : `Rollout demo NOT ok: ${report.problems.join('; ')}\nReport            ${reportPath}`,
  );
  return { ok: report.ok, fleet: written.fleet.catch(() => undefined) };
}
