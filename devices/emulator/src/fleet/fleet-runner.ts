import mqtt from 'mqtt';
import type { CertificateAuthority } from '@rampart/trust';
import type { UpdateClientOptions, UpdateServer } from '../updates/update-client.js';
import { join } from 'node:path';
import { EmulatedDevice, type DeviceEnvironment, type DeviceIdentity, type GatewayEndpoint } from '../device/emulated-device.js';
import { MqttJsTransport } from '../device/mqtt-js-transport.js';
import { realClock } from '../device/real-clock.js';
import type { OperationalCertificate } from '../device/device-messages.js';
import { LatencyRecorder } from '../device/latency-recorder.js';
import { demoFirmware, demoFirmwareSigners, type FirmwareSigners } from '../firmware/firmware.js';
import { manufactureDevice, type ManufacturedDevice } from '../factory/manufacture.js';
import { SecuritySubsystem } from '../mcu/security-subsystem.js';
import { DirectoryStateStore, MemoryStateStore } from '../mcu/state-store.js';
import type { AppConfig } from '../os/app-runtime.js';
import { SecureOs } from '../os/secure-os.js';
import { missingTpmPrograms } from '../tpm/swtpm.js';
import type { TpmVendorCa } from '../tpm/tpm-factory.js';
import { tpmDeviceIdentity } from '../tpm/tpm-attestor.js';
import { manufactureTpmDevice } from '../tpm/tpm-factory.js';
import { SCENARIOS, type ScenarioName } from './scenarios.js';

export const DEFAULT_CONNECT_RATE_PER_SEC = 200;
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

export interface FleetOptions {
  readonly devices: number;
  readonly ratePerDevice: number;
  readonly durationMs: number;
  readonly metricsPerReading: number;
  readonly endpoint: GatewayEndpoint;
  /** Needed for the TLS endpoint: endorses each device's identity. */
  readonly manufacturerCa?: CertificateAuthority;
  /** The CA that signed the gateway's server certificate. */
  readonly gatewayCaPem?: string;
  /** New connections per second, so a fleet start is a ramp, not a storm. */
  readonly connectRatePerSec?: number;
  /** Sample apps the firmware carries (`devices/apps/<name>`); none by default, the fleet's load is `ratePerDevice`. */
  readonly apps?: readonly string[];
  /**
   * Who signed the factory firmware; default the process's demo signers. Pass them when another process
   * signs the updates (its own demo signers are not these devices').
   */
  readonly firmwareSigners?: FirmwareSigners;
  /** Per-app settings (`rampart.config`), e.g. `{ 'sensor': { crashRate: 0.1 } }`. */
  readonly appConfig?: Readonly<Record<string, AppConfig>>;
  /** Per-device app settings, over `appConfig` (e.g. one device with a crashing build). */
  readonly deviceAppConfig?: (index: number) => Readonly<Record<string, AppConfig>> | undefined;
  /** Keep each device's state in `<stateDir>/<index>`, so a restarted fleet has the same identities. */
  readonly stateDir?: string;
  /** Runs once the devices are manufactured, before any connects (e.g. to claim them for a tenant). */
  readonly beforeStart?: (devices: readonly ManufacturedDevice[]) => Promise<void>;
  /** Hands each device an operational certificate up front instead of attesting (tests of other paths). */
  readonly preIssue?: (device: ManufacturedDevice) => Promise<OperationalCertificate>;
  readonly drainTimeoutMs?: number;
  /** How long an updated component must run cleanly before its update commits (default 30 s). */
  readonly healthWindowMs?: number;
  /** How often each device's OS sends an uptime heartbeat (default hourly). */
  readonly heartbeatIntervalMs?: number;
  /** Share of readings each device traces end to end (W3C traceparent in the payload). Default 0. */
  readonly traceSampleRatio?: number;
  /** The update server devices check after every attestation and on notice (TLS endpoints only). */
  readonly updates?: { readonly server: UpdateServer; readonly client?: UpdateClientOptions; readonly checkIntervalMs?: number };
  /** First-retry window after a dropped connection (default 20 s). */
  readonly reconnectSpreadMs?: number;
  /** A load scenario (see `scenarios.ts`); default `steady`. */
  readonly scenario?: ScenarioName;
  readonly onProgress?: (progress: FleetProgress) => void;
  readonly signal?: AbortSignal;
  /**
   * Keeps the fleet going after its report: at `durationMs` the devices drain and `onReport` is given the report;
   * then they publish (and check for updates) again until this aborts, and the run resolves with the whole run's.
   */
  readonly continueUntil?: AbortSignal;
  readonly onReport?: (report: FleetReport) => Promise<void> | void;
  /**
   * The first `devices` of the fleet are Linux-class devices with a TPM 2.0 (each its own swtpm under `dir`, or under
   * `<stateDir>/<index>/tpm` with `stateDir`, so that a restarted device keeps the TPM its IDevID names; its EK
   * certified by `vendor`: the attestation service must trust it, `TPM_VENDOR_CA_FILE`), attesting with quotes;
   * the rest are MCUs. Needs swtpm and tpm2-tools: the run is refused up front, naming what is missing, without them.
   */
  readonly tpm?: { readonly devices: number; readonly vendor: TpmVendorCa; readonly dir: string };
}

export interface FleetProgress {
  readonly elapsedMs: number;
  readonly online: number;
  /** Devices holding an operational certificate. */
  readonly attested: number;
  readonly published: number;
  readonly acknowledged: number;
  readonly pending: number;
}

/** One second of a run, for the report's charts. */
export interface FleetTimelinePoint {
  /** Seconds since the first device started. */
  readonly t: number;
  readonly online: number;
  readonly attested: number;
  /** Readings acknowledged in this second. */
  readonly acknowledged: number;
  readonly pending: number;
  /** Publish → PUBACK latency of this second's readings. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** Counted in this second. */
  readonly reconnects: number;
  readonly attestationFailures: number;
  readonly failureReports: number;
}

export interface FleetReport {
  readonly scenario: ScenarioName;
  readonly devices: number;
  readonly devicesConnected: number;
  readonly published: number;
  readonly acknowledged: number;
  /** Readings never acknowledged by the gateway when the run ended. */
  readonly unacknowledged: number;
  /** Readings a device threw away because its offline buffer was full. */
  readonly droppedOnDevice: number;
  readonly reconnects: number;
  readonly connectFailures: number;
  /** Devices that hold an operational certificate at the end. */
  readonly devicesAttested: number;
  /** Of `devices`, those with a TPM 2.0 (attesting with quotes). */
  readonly tpmDevices: number;
  readonly attestationFailures: number;
  /** Attestations that got no verdict in time (the device reconnected and tried again). */
  readonly attestationTimeouts: number;
  /** Requests or evidence a device's attestor could not make (a TPM that did not power on, a TPM command that failed). */
  readonly attestorErrors: number;
  /** What the last of those said, on some device (empty: none). */
  readonly lastAttestorError: string;
  /** Attestation requests or evidence made but not sent: their MQTT publish failed. */
  readonly attestationPublishesDropped: number;
  readonly reboots: number;
  readonly failureReportsSent: number;
  readonly heartbeatsSent: number;
  readonly updatesInstalled: number;
  readonly updatesFailed: number;
  /** OS updates devices installed from the recovery path after an attestation refused for an outdated OS. */
  readonly recoveries: number;
  readonly durationMs: number;
  readonly acknowledgedPerSecond: number;
  readonly ackLatencyMs: { readonly p50: number | null; readonly p95: number | null; readonly p99: number | null };
  readonly deviceIds: readonly string[];
  readonly timeline: readonly FleetTimelinePoint[];
  /** Scenario acts, at seconds since the start. */
  readonly events: ReadonlyArray<{ readonly t: number; readonly event: string }>;
  /** One device's operational certificate and chain, for inspection (public material only). */
  readonly sampleCertificate?: { readonly deviceId: string; readonly certificatePem: string; readonly chainPem: string };
}

/** Real time, `Math.random` and mqtt.js. */
export const realEnvironment: DeviceEnvironment = {
  ...realClock,
  random: Math.random,
  transport: new MqttJsTransport((options) => mqtt.connect(options)),
};

/** Timers hold at most 2^31 − 1 ms; a pod that runs "for ever" sleeps in steps of a day. */
const LONGEST_TIMER_MS = 86_400_000;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    let timer: NodeJS.Timeout;
    const until = Date.now() + ms;
    const step = () => {
      const left = until - Date.now();
      if (left <= 0) resolve();
      else timer = setTimeout(step, Math.min(left, LONGEST_TIMER_MS));
    };
    step();
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Manufactures a fleet, connects it at a bounded rate, publishes for the
 * duration, then stops producing and waits for every pending reading to be
 * acknowledged before disconnecting. The report counts what was published,
 * acknowledged and left unacknowledged.
 */
export async function runFleet(options: FleetOptions, env: DeviceEnvironment = realEnvironment): Promise<FleetReport> {
  const devices: EmulatedDevice[] = [];
  const scenario = SCENARIOS[options.scenario ?? 'steady'];
  const apps = options.apps ?? scenario.apps ?? [];
  const appConfig = { ...scenario.appConfig, ...options.appConfig };
  let windowLatency = new LatencyRecorder(2_000, env.random);
  const onAck = (ms: number) => windowLatency.record(ms);
  const manufactured: ManufacturedDevice[] = [];
  const firmware = demoFirmware(options.firmwareSigners, apps);
  const tpmDevices = options.tpm?.devices ?? 0;
  if (tpmDevices > 0) {
    if (options.endpoint.kind !== 'tls') throw new Error('TPM devices attest: they need the TLS endpoint');
    if (tpmDevices > options.devices) throw new Error(`${tpmDevices} TPM devices in a fleet of ${options.devices}`);
    const missing = await missingTpmPrograms();
    if (missing.length > 0) {
      throw new Error(
        `TPM devices need swtpm and tpm2-tools, and ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not installed ` +
          '(Debian: apt-get install swtpm swtpm-tools tpm2-tools)',
      );
    }
  }
  for (let i = 0; i < options.devices; i++) {
    if (options.endpoint.kind === 'tls') {
      if (options.manufacturerCa === undefined || options.gatewayCaPem === undefined) {
        throw new Error('a TLS endpoint needs the manufacturer CA and the gateway CA');
      }
      const store = options.stateDir === undefined ? new MemoryStateStore() : new DirectoryStateStore(`${options.stateDir}/${i}`);
      const tpm = i < tpmDevices ? options.tpm : undefined;
      let made: ManufacturedDevice;
      let identity: DeviceIdentity;
      if (tpm === undefined) {
        made = await manufactureDevice(options.manufacturerCa, { store, firmware });
        identity = { security: made.security, identityCertificatePem: made.identityCertificatePem, gatewayCaPem: options.gatewayCaPem };
      } else {
        // A device kept in stateDir keeps its TPM beside it: its IDevID names that TPM's EK.
        const tpmDir = options.stateDir === undefined ? join(tpm.dir, String(i)) : join(options.stateDir, String(i), 'tpm');
        const withTpm = await manufactureTpmDevice(tpmDir, tpm.vendor, options.manufacturerCa, { store, firmware });
        made = withTpm;
        identity = tpmDeviceIdentity(withTpm, options.gatewayCaPem);
      }
      manufactured.push(made);
      devices.push(
        new EmulatedDevice(
          {
            deviceId: made.security.deviceId,
            endpoint: options.endpoint,
            identity,
            ...(options.preIssue === undefined ? {} : { operational: await options.preIssue(made) }),
            ratePerSecond: options.ratePerDevice,
            metricsPerReading: options.metricsPerReading,
            ...(options.traceSampleRatio === undefined ? {} : { traceSampleRatio: options.traceSampleRatio }),
            os: (sinks) =>
              new SecureOs(made.security, env, sinks, {
                appConfig: { ...appConfig, ...options.deviceAppConfig?.(i) },
                ...(options.healthWindowMs === undefined ? {} : { healthWindowMs: options.healthWindowMs }),
                ...(options.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: options.heartbeatIntervalMs }),
              }),
            onAck,
            ...(options.reconnectSpreadMs === undefined ? {} : { reconnectSpreadMs: options.reconnectSpreadMs }),
            ...(options.updates === undefined ? {} : { updates: options.updates }),
          },
          env,
        ),
      );
    } else {
      const security = new SecuritySubsystem();
      devices.push(
        new EmulatedDevice(
          {
            deviceId: security.deviceId,
            endpoint: options.endpoint,
            ratePerSecond: options.ratePerDevice,
            metricsPerReading: options.metricsPerReading,
            onAck,
          },
          env,
        ),
      );
    }
  }
  await options.beforeStart?.(manufactured);

  const started = Date.now();
  const progress = (): FleetProgress => ({
    elapsedMs: Date.now() - started,
    online: devices.filter((d) => d.online).length,
    attested: devices.filter((d) => d.attested).length,
    published: devices.reduce((n, d) => n + d.stats.published, 0),
    acknowledged: devices.reduce((n, d) => n + d.stats.acknowledged, 0),
    pending: devices.reduce((n, d) => n + d.pendingCount, 0),
  });
  const sum = (pick: (d: EmulatedDevice) => number): number => devices.reduce((n, d) => n + pick(d), 0);
  const timeline: FleetTimelinePoint[] = [];
  const events: Array<{ t: number; event: string }> = [];
  const seconds = () => Math.round((Date.now() - started) / 100) / 10;
  let last = { acknowledged: 0, reconnects: 0, attestationFailures: 0, failureReports: 0 };
  const sample = () => {
    const now = {
      acknowledged: sum((d) => d.stats.acknowledged),
      reconnects: sum((d) => d.stats.reconnects),
      attestationFailures: sum((d) => d.stats.attestationFailures),
      failureReports: sum((d) => d.stats.failureReportsSent),
    };
    timeline.push({
      t: seconds(),
      online: devices.filter((d) => d.online).length,
      attested: devices.filter((d) => d.attested).length,
      acknowledged: now.acknowledged - last.acknowledged,
      pending: sum((d) => d.pendingCount),
      p50Ms: windowLatency.percentile(50),
      p99Ms: windowLatency.percentile(99),
      reconnects: now.reconnects - last.reconnects,
      attestationFailures: now.attestationFailures - last.attestationFailures,
      failureReports: now.failureReports - last.failureReports,
    });
    last = now;
    windowLatency = new LatencyRecorder(2_000, env.random);
  };
  /** The run so far, with the fleet where `at` found it. */
  function report(at: FleetProgress): FleetReport {
    const durationMs = Date.now() - started;
    const latency = new LatencyRecorder(100_000, env.random);
    for (const device of devices) latency.merge(device.latency);
    const acknowledged = sum((d) => d.stats.acknowledged);
    return {
      scenario: scenario.name,
      devices: devices.length,
      devicesConnected: devices.filter((d) => d.stats.everConnected).length,
      published: sum((d) => d.stats.published),
      acknowledged,
      unacknowledged: sum((d) => d.pendingCount),
      droppedOnDevice: sum((d) => d.stats.dropped),
      reconnects: sum((d) => d.stats.reconnects),
      connectFailures: sum((d) => d.stats.connectFailures),
      devicesAttested: at.attested,
      tpmDevices,
      attestationFailures: sum((d) => d.stats.attestationFailures),
      attestationTimeouts: sum((d) => d.stats.attestationTimeouts),
      attestorErrors: sum((d) => d.stats.attestorErrors),
      lastAttestorError: devices.map((d) => d.stats.lastAttestorError).findLast((error) => error !== '') ?? '',
      attestationPublishesDropped: sum((d) => d.stats.attestationPublishesDropped),
      reboots: sum((d) => d.stats.reboots),
      failureReportsSent: sum((d) => d.stats.failureReportsSent),
      heartbeatsSent: sum((d) => d.stats.heartbeatsSent),
      updatesInstalled: sum((d) => d.stats.updatesInstalled),
      updatesFailed: sum((d) => d.stats.updatesFailed),
      recoveries: sum((d) => d.stats.recoveries),
      durationMs,
      acknowledgedPerSecond: Math.round((acknowledged / durationMs) * 1000),
      ackLatencyMs: { p50: latency.percentile(50), p95: latency.percentile(95), p99: latency.percentile(99) },
      deviceIds: devices.map((d) => d.deviceId),
      timeline: [...timeline],
      events: [...events],
      ...sampleCertificate(devices),
    };
  }
  const ticker = setInterval(() => {
    sample();
    options.onProgress?.(progress());
  }, 1_000);
  let acting: Promise<void> = Promise.resolve();
  // Where the fleet stood at the end, read before the devices are stopped: the summary and the timeline's last point agree.
  let final: FleetProgress | undefined;
  try {
    const connectGapMs =
      1000 / (options.connectRatePerSec ?? scenario.connectRatePerSec?.(options.devices) ?? DEFAULT_CONNECT_RATE_PER_SEC);
    for (const device of devices) {
      if (options.signal?.aborted === true) break;
      device.start();
      if (connectGapMs >= 1) await sleep(connectGapMs, options.signal);
      else if (devices.indexOf(device) % 100 === 99) await sleep(0, options.signal);
    }
    if (scenario.act !== undefined) {
      acting = scenario.act({
        devices,
        random: env.random,
        durationMs: options.durationMs,
        firmwareSigners: options.firmwareSigners ?? demoFirmwareSigners(),
        sleep: (ms) => sleep(ms, options.signal),
        mark: (event) => events.push({ t: seconds(), event }),
      });
    }
    const remaining = options.durationMs - (Date.now() - started);
    if (remaining > 0) await sleep(remaining, options.signal);
    await acting;
    const drainTimeout = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    await Promise.all(devices.map((d) => d.stopPublishing(drainTimeout)));
    if (options.continueUntil !== undefined) {
      sample();
      await options.onReport?.(report(progress()));
      for (const device of devices) device.resumePublishing();
      const until = options.signal === undefined ? options.continueUntil : AbortSignal.any([options.continueUntil, options.signal]);
      await sleep(Number.MAX_SAFE_INTEGER, until);
      await Promise.all(devices.map((d) => d.stopPublishing(drainTimeout)));
    }
  } finally {
    clearInterval(ticker);
    sample();
    final = progress();
    await acting.catch(() => undefined);
    await Promise.all(devices.map((d) => d.stop()));
  }
  options.onProgress?.(final);
  return report(final);
}

function sampleCertificate(devices: readonly EmulatedDevice[]): Pick<FleetReport, 'sampleCertificate'> {
  const device = devices.find((d) => d.operationalCertificate !== undefined);
  const certificate = device?.operationalCertificate;
  if (device === undefined || certificate === undefined) return {};
  return { sampleCertificate: { deviceId: device.deviceId, certificatePem: certificate.certificatePem, chainPem: certificate.chainPem } };
}
