import { X509Certificate, randomBytes } from 'node:crypto';
import {
  RECOVERABLE_REASONS,
  attestResponseTopic,
  deviceCommandTopic,
  deviceTopic,
  type AttestationResponse,
  type DeviceTelemetry,
} from '@rampart/contracts';
import type { OsSinks, SecureOs } from '../os/secure-os.js';
import { createSignedEvidence } from '../mcu/attestation-evidence.js';
import type { SecuritySubsystem } from '../mcu/security-subsystem.js';
import type { IClientOptions, MqttClient } from 'mqtt';
import { DEFAULT_RECONNECT_SPREAD_MS, fullJitterBackoff, reconnectBackoff } from './backoff.js';
import { LatencyRecorder } from './latency-recorder.js';
import { Outbox } from './outbox.js';
import { DeviceUpdater, type DeferralPolicy } from '../updates/device-updater.js';
import { RECOVERY_PATHS, UpdateClient, type UpdateClientOptions, type UpdateServer } from '../updates/update-client.js';
import { TelemetrySource } from './telemetry-source.js';

/** Readings a device buffers while offline before it drops the oldest. */
export const DEFAULT_MAX_PENDING = 10_000;
/** Failure reports a device keeps while offline before it drops the oldest. */
export const MAX_PENDING_FAILURES = 256;
/** Uptime heartbeats a device keeps while offline (a week of hourly ones) before it drops the oldest. */
export const MAX_PENDING_HEARTBEATS = 168;
/** Each start of a device takes a new block of telemetry sequence numbers this large. */
const SEQ_EPOCH = 2 ** 32;
const SEQ_EPOCH_ENTRY = 'telemetry-epoch';
/** How long a device waits for its attestation verdict before it reconnects and tries again. */
export const ATTESTATION_TIMEOUT_MS = 30_000;
const KEEPALIVE_S = 60;

export type ConnectFn = (options: IClientOptions) => MqttClient;

export interface DeviceEnvironment {
  readonly now: () => number;
  readonly random: () => number;
  readonly setTimer: (fn: () => void, ms: number) => NodeJS.Timeout;
  readonly clearTimer: (timer: NodeJS.Timeout | undefined) => void;
  readonly connect: ConnectFn;
}

export type GatewayEndpoint =
  | { readonly kind: 'tls'; readonly host: string; readonly port: number; readonly servername?: string }
  | { readonly kind: 'dev'; readonly host: string; readonly port: number };

/** What a device needs to attest: its security subsystem, IDevID and the gateway's CA (the boot state comes from its OS). */
export interface DeviceIdentity {
  readonly security: SecuritySubsystem;
  readonly identityCertificatePem: string;
  readonly gatewayCaPem: string;
}

export interface OperationalCertificate {
  readonly certificatePem: string;
  /** Tenant CA (and root) certificates sent with the leaf. */
  readonly chainPem: string;
  readonly notAfter: number;
}

/** Renew the operational certificate once this share of its lifetime has passed. */
const RENEW_AT_LIFETIME = 0.8;

export interface DeviceOptions {
  readonly deviceId: string;
  readonly endpoint: GatewayEndpoint;
  /** For the TLS endpoint: the device attests with this identity and then uses its operational certificate. */
  readonly identity?: DeviceIdentity;
  /** An operational certificate issued earlier (the device skips attestation until it expires). */
  readonly operational?: OperationalCertificate;
  readonly ratePerSecond: number;
  readonly metricsPerReading: number;
  readonly maxPending?: number;
  /** Share of readings the device traces (a W3C traceparent in the payload; sampled). Default 0. */
  readonly traceSampleRatio?: number;
  /**
   * The device's secure OS, made with the sinks the device gives it: the
   * device attests with what the OS measured at boot, sends its apps'
   * telemetry and its failure reports, and re-attests after every reboot.
   */
  readonly os?: (sinks: OsSinks) => SecureOs;
  /** First-retry window after losing a connection that was up (see `DEFAULT_RECONNECT_SPREAD_MS`). */
  readonly reconnectSpreadMs?: number;
  /**
   * The update server: once on its operational certificate, the device
   * checks for updates after every attestation, whenever the platform
   * sends `update-check` on its commands topic, and every `checkIntervalMs`.
   */
  readonly updates?: {
    readonly server: UpdateServer;
    readonly client?: UpdateClientOptions;
    /** The device's say on an offered deployment: minutes to put it off (see DeferralPolicy); default never. */
    readonly deferral?: DeferralPolicy;
    /**
     * Checks again this often while connected (each wait drawn from ½–1½ × it, so a fleet does not ask at once):
     * a notice lost while the device was busy or the gateway restarted is caught up without waiting for the next
     * attestation. Default: only after attestation and on notice.
     */
    readonly checkIntervalMs?: number;
  };
  /** Told the publish → PUBACK latency of every acknowledged reading (a fleet's timeline). */
  readonly onAck?: (latencyMs: number) => void;
}

export interface DeviceStats {
  published: number;
  acknowledged: number;
  dropped: number;
  connects: number;
  reconnects: number;
  connectFailures: number;
  everConnected: boolean;
  attestations: number;
  attestationFailures: number;
  lastAttestationReasons: readonly string[];
  reboots: number;
  attestationTimeouts: number;
  failureReportsSent: number;
  failureReportsDropped: number;
  heartbeatsSent: number;
  heartbeatsDropped: number;
  updateChecks: number;
  /** Update checks that finished, whatever their answer (or that failed to reach the server). */
  updateChecksDone: number;
  updatesInstalled: number;
  /** Updates refused (metadata, download, the agent's checks) or rolled back. */
  updatesFailed: number;
  /** Times the device, refused attestation for an outdated OS, took the recovery path. */
  recoveryAttempts: number;
  /** OS updates installed from the recovery path. */
  recoveries: number;
  /** Recovery attempts the server refused or that failed (no grant, unreachable). */
  recoveryRefusals: number;
}

type State = 'idle' | 'booting' | 'connecting' | 'online' | 'backoff' | 'stopped';

interface Pending {
  readonly payload: Buffer;
  sentAt: number;
  inFlight: boolean;
}

/**
 * One emulated device's connection and telemetry: connect, publish at a
 * rate with QoS 1, keep every reading until its PUBACK arrives, resend what
 * is pending after a reconnect (the sequence number makes resends
 * idempotent), and reconnect with exponential backoff and full jitter.
 */
export class EmulatedDevice {
  private state: State = 'idle';
  private client: MqttClient | undefined;
  private attempt = 0;
  /** Retrying after losing an established connection (wide first window), not after a failed first connect. */
  private spreading = false;
  private publishTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly source: TelemetrySource;
  private readonly topic: string;
  private drainWaiters: Array<() => void> = [];
  readonly stats: DeviceStats = {
    published: 0,
    acknowledged: 0,
    dropped: 0,
    connects: 0,
    reconnects: 0,
    connectFailures: 0,
    everConnected: false,
    attestations: 0,
    attestationFailures: 0,
    lastAttestationReasons: [],
    reboots: 0,
    attestationTimeouts: 0,
    failureReportsSent: 0,
    failureReportsDropped: 0,
    heartbeatsSent: 0,
    heartbeatsDropped: 0,
    updateChecks: 0,
    updateChecksDone: 0,
    updatesInstalled: 0,
    updatesFailed: 0,
    recoveryAttempts: 0,
    recoveries: 0,
    recoveryRefusals: 0,
  };
  private readonly updater: DeviceUpdater | undefined;
  private updateClient: UpdateClient | undefined;
  private recoveryClient: UpdateClient | undefined;
  readonly os: SecureOs | undefined;
  private readonly failures: Outbox;
  private readonly heartbeats: Outbox;
  private operational: OperationalCertificate | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private attestTimer: NodeJS.Timeout | undefined;
  /** Which certificate the current connection uses. */
  private credential: 'identity' | 'operational' = 'identity';
  readonly latency: LatencyRecorder;

  constructor(
    private readonly options: DeviceOptions,
    private readonly env: DeviceEnvironment,
  ) {
    this.source = new TelemetrySource(options.metricsPerReading, env.random, this.takeSeqEpoch());
    this.topic = deviceTopic(options.deviceId, 'telemetry');
    this.latency = new LatencyRecorder(1_000, env.random);
    this.operational = options.operational;
    this.failures = new Outbox(deviceTopic(options.deviceId, 'failures'), MAX_PENDING_FAILURES, {
      sent: () => this.stats.failureReportsSent++,
      dropped: () => this.stats.failureReportsDropped++,
    });
    this.heartbeats = new Outbox(deviceTopic(options.deviceId, 'heartbeat'), MAX_PENDING_HEARTBEATS, {
      sent: () => this.stats.heartbeatsSent++,
      dropped: () => this.stats.heartbeatsDropped++,
    });
    this.os = options.os?.({
      telemetry: (_app, metrics) => this.produce(metrics),
      failure: (report) => {
        this.failures.add(JSON.stringify(report));
        this.flushOutboxes();
      },
      heartbeat: (heartbeat) => {
        this.heartbeats.add(JSON.stringify(heartbeat));
        this.flushOutboxes();
      },
    });
    this.os?.onBoot(() => this.afterOsBoot());
    const updates = options.updates;
    if (updates !== undefined && this.os !== undefined && options.identity !== undefined) {
      const identity = options.identity;
      const client = new UpdateClient(
        updates.server,
        () => {
          const certificate = this.operational;
          if (certificate === undefined) throw new Error('no operational certificate yet');
          // The same context object while the certificate is the same (the security subsystem keeps it), so the
          // update connection is kept alive.
          return identity.security.tlsContext(`${certificate.certificatePem}${certificate.chainPem}`, identity.gatewayCaPem);
        },
        updates.client,
      );
      this.updateClient = client;
      // The recovery path: the same server on the IDevID, which reaches nothing but a newer OS.
      this.recoveryClient = new UpdateClient(
        updates.server,
        () => identity.security.tlsContext(identity.identityCertificatePem, identity.gatewayCaPem),
        updates.client,
        RECOVERY_PATHS,
      );
      this.updater = new DeviceUpdater(
        options.deviceId,
        this.os,
        client,
        identity.security.store,
        () => new Date(env.now()),
        updates.deferral,
        this.recoveryClient,
      );
    }
    if (options.identity !== undefined && this.os === undefined) {
      throw new Error('a device that attests needs its secure OS: evidence carries what its secure boot measured');
    }
  }

  /** A device that restarts with its state continues numbering after every earlier start. */
  private takeSeqEpoch(): number {
    const store = this.options.identity?.security.store;
    if (store === undefined) return 0;
    const epoch = Number(store.read(SEQ_EPOCH_ENTRY)?.toString('utf8') ?? '0');
    store.write(SEQ_EPOCH_ENTRY, Buffer.from(String(epoch + 1)));
    return epoch * SEQ_EPOCH;
  }

  /** True once the device holds an operational certificate. */
  get attested(): boolean {
    return this.operational !== undefined;
  }

  get operationalCertificate(): OperationalCertificate | undefined {
    return this.operational;
  }

  get deviceId(): string {
    return this.options.deviceId;
  }

  get online(): boolean {
    return this.state === 'online';
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Boots (when the device has an OS), connects and starts publishing. */
  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'booting';
    const booted = this.os === undefined ? Promise.resolve() : this.os.powerOn().then(() => undefined);
    booted.then(
      () => {
        if (this.state !== 'booting') return;
        this.connect();
        if (this.options.ratePerSecond > 0) this.schedulePublish(this.env.random() * this.intervalMs());
      },
      () => {
        // A power-on that throws is a device that never comes up; it stays off.
        this.state = 'stopped';
      },
    );
  }

  /**
   * Restarts the device: the connection drops, the OS boots again, and the
   * device attests again on its manufacturer identity before it may send
   * telemetry (its operational certificate is not trusted across a reboot).
   */
  async reboot(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'idle') return;
    this.dropConnection();
    this.forgetOperational();
    this.stats.reboots++;
    this.state = 'booting';
    this.os?.shutdown();
    await this.os?.powerOn();
    if (this.state === 'booting') this.connect();
  }

  /** The OS booted again on its own (an update's reboot): attest again. */
  private afterOsBoot(): void {
    // While booting (power-on, `reboot()`) the device connects afresh anyway; otherwise — even mid-connect — it must re-attest.
    if (this.state === 'booting' || this.state === 'idle' || this.state === 'stopped') return;
    this.stats.reboots++;
    this.dropConnection();
    this.forgetOperational();
    this.connect();
  }

  /** The connection drops as if the broker went away (a reconnect-storm rehearsal from the device side). */
  loseConnection(): void {
    const client = this.client;
    if (client !== undefined && this.state === 'online') client.emit('close');
  }

  private dropConnection(): void {
    const client = this.client;
    this.client = undefined;
    client?.removeAllListeners();
    client?.on('error', () => undefined);
    client?.end(true);
    this.env.clearTimer(this.reconnectTimer);
    this.env.clearTimer(this.checkTimer);
    for (const entry of this.pending.values()) entry.inFlight = false;
    this.failures.connectionLost();
    this.heartbeats.connectionLost();
  }

  private forgetOperational(): void {
    this.operational = undefined;
    this.env.clearTimer(this.renewTimer);
  }

  private intervalMs(): number {
    return 1000 / this.options.ratePerSecond;
  }

  private connect(): void {
    this.state = 'connecting';
    this.stats.connects++;
    const { endpoint } = this.options;
    const common: IClientOptions = {
      clientId: this.options.deviceId,
      protocolVersion: 4,
      clean: true,
      keepalive: KEEPALIVE_S,
      // Reconnects are ours: backoff with full jitter, and resending what is pending.
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      host: endpoint.host,
      port: endpoint.port,
    };
    if (this.operational !== undefined && this.operational.notAfter <= this.env.now()) this.operational = undefined;
    let client: MqttClient;
    if (endpoint.kind === 'tls') {
      const identity = this.options.identity;
      if (identity === undefined) throw new Error('a TLS endpoint needs the device identity');
      this.credential = this.operational === undefined ? 'identity' : 'operational';
      const certificatePem =
        this.operational === undefined ? identity.identityCertificatePem : `${this.operational.certificatePem}${this.operational.chainPem}`;
      client = this.env.connect({
        ...common,
        protocol: 'mqtts',
        secureContext: identity.security.tlsContext(certificatePem, identity.gatewayCaPem),
        servername: endpoint.servername ?? 'localhost',
        rejectUnauthorized: true,
      } as IClientOptions);
    } else {
      this.credential = 'operational';
      client = this.env.connect({ ...common, protocol: 'mqtt' });
    }
    this.client = client;
    client.on('connect', () => {
      if (this.client !== client) return;
      this.state = 'online';
      this.attempt = 0;
      this.spreading = false;
      this.stats.everConnected = true;
      this.flushOutboxes();
      if (endpoint.kind !== 'tls') {
        this.resendPending();
        return;
      }
      // Ask only once the response topic is subscribed: an answer published
      // before the broker has the subscription would be lost.
      const topics = [attestResponseTopic(this.options.deviceId)];
      if (this.credential === 'operational') topics.push(deviceCommandTopic(this.options.deviceId, '#'));
      client.subscribe(topics, { qos: 1 }, (error) => {
        if (this.client !== client || error) return;
        if (this.credential === 'identity') this.requestAttestation();
        else {
          this.resendPending();
          // Devices learn of updates at attestation: the first thing on a fresh operational connection.
          this.checkForUpdates();
          this.scheduleUpdateChecks(client);
        }
      });
    });
    client.on('message', (topic, payload) => {
      if (this.client !== client) return;
      if (topic === attestResponseTopic(this.options.deviceId)) this.onAttestResponse(payload);
      else if (topic === deviceCommandTopic(this.options.deviceId, 'update-check')) this.checkForUpdates();
    });
    client.on('close', () => this.onConnectionLost(client));
    client.on('error', () => this.onConnectionLost(client));
  }

  /**
   * Asks for a nonce. If no verdict comes within `ATTESTATION_TIMEOUT_MS` (a
   * message shed under load, a service restart), the device drops the
   * connection and tries again with backoff rather than waiting for ever.
   */
  private requestAttestation(): void {
    const client = this.client;
    if (client === undefined) return;
    this.env.clearTimer(this.attestTimer);
    this.attestTimer = this.env.setTimer(() => {
      if (this.client !== client) return;
      this.stats.attestationTimeouts++;
      client.emit('close');
    }, ATTESTATION_TIMEOUT_MS);
    client.publish(deviceTopic(this.options.deviceId, 'attestRequest'), '{}', { qos: 1 });
  }

  /** Nonce → signed evidence; verdict → keep the certificate and move to it. */
  private onAttestResponse(payload: Buffer): void {
    const identity = this.options.identity;
    const os = this.os;
    if (identity === undefined || os === undefined) return;
    let response: AttestationResponse;
    try {
      response = JSON.parse(payload.toString('utf8')) as AttestationResponse;
    } catch {
      return;
    }
    if (response.type === 'nonce') {
      const evidence = createSignedEvidence(identity.security, identity.identityCertificatePem, response.nonce, os.bootState);
      // Traced like a reading: the trace context rides beside the signed evidence, not in it.
      const traceparent = this.newTraceparent();
      this.client?.publish(
        deviceTopic(this.options.deviceId, 'attestEvidence'),
        JSON.stringify(traceparent === undefined ? evidence : { ...evidence, traceparent }),
        { qos: 1 },
      );
      return;
    }
    this.env.clearTimer(this.attestTimer);
    const verdict = response.type === 'verdict' ? response.verdict : { pass: false as const, reasons: [response.code] };
    if (!verdict.pass) {
      this.stats.attestationFailures++;
      this.stats.lastAttestationReasons = verdict.reasons;
      // Quarantined: drop the connection and try again later, with backoff.
      this.client?.end(true);
      // Refused only for what a newer OS cures: fetch it on the recovery path (its reboot attests again).
      if (verdict.reasons.length > 0 && verdict.reasons.every((r) => RECOVERABLE_REASONS.includes(r as never))) this.recover();
      return;
    }
    this.stats.attestations++;
    this.operational = { certificatePem: verdict.certificatePem, chainPem: verdict.chainPem, notAfter: verdict.notAfter };
    this.scheduleRenewal(verdict.certificatePem);
    if (this.credential === 'identity') {
      // Reconnect at once with the operational certificate: no backoff for a planned switch.
      this.dropConnection();
      if (this.state !== 'stopped') this.connect();
    }
  }

  private scheduleRenewal(certificatePem: string): void {
    this.env.clearTimer(this.renewTimer);
    const certificate = new X509Certificate(certificatePem);
    const from = new Date(certificate.validFrom).getTime();
    const to = new Date(certificate.validTo).getTime();
    const at = from + (to - from) * RENEW_AT_LIFETIME;
    this.renewTimer = this.env.setTimer(
      () => {
        if (this.state === 'online') this.requestAttestation();
      },
      Math.max(0, at - this.env.now()),
    );
  }

  private onConnectionLost(client: MqttClient): void {
    if (this.client !== client) return;
    this.dropConnection();
    if (this.state === 'stopped') return;
    // A connection that was up and dropped (a broker restart drops everyone at
    // once) retries over the wide reconnect spread; a failing connect attempt
    // keeps backing off from where it is.
    if (this.state === 'online') this.spreading = true;
    if (this.state === 'connecting') this.stats.connectFailures++;
    this.state = 'backoff';
    this.stats.reconnects++;
    const delay = this.spreading
      ? reconnectBackoff(this.attempt++, this.env.random, this.options.reconnectSpreadMs ?? DEFAULT_RECONNECT_SPREAD_MS)
      : fullJitterBackoff(this.attempt++, this.env.random);
    this.reconnectTimer = this.env.setTimer(() => {
      if (this.state === 'backoff') this.connect();
    }, delay);
  }

  private schedulePublish(delayMs: number): void {
    this.publishTimer = this.env.setTimer(() => {
      if (this.state === 'stopped') return;
      this.produce();
      this.schedulePublish(this.intervalMs());
    }, delayMs);
  }

  /**
   * A new trace for a message the device sends, for `traceSampleRatio` of them. The device is the trace's
   * root: the gateway's span is its child. (MQTT 3.1.1 has no headers: the context rides in the payload.)
   */
  private newTraceparent(): string | undefined {
    const ratio = this.options.traceSampleRatio ?? 0;
    if (ratio <= 0 || this.env.random() >= ratio) return undefined;
    return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
  }

  /** The next reading: synthetic load, or an app's metrics. */
  private produce(metrics?: Record<string, number>): void {
    const now = Math.round(this.env.now());
    const produced: DeviceTelemetry = metrics === undefined ? this.source.next(now) : this.source.reading(now, metrics);
    const traceparent = this.newTraceparent();
    const reading = traceparent === undefined ? produced : { ...produced, traceparent };
    this.stats.published++;
    if (this.pending.size >= (this.options.maxPending ?? DEFAULT_MAX_PENDING)) {
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
      this.stats.dropped++;
    }
    this.pending.set(reading.seq, { payload: Buffer.from(JSON.stringify(reading)), sentAt: 0, inFlight: false });
    this.send(reading.seq);
  }

  private resendPending(): void {
    for (const seq of this.pending.keys()) this.send(seq);
  }

  private send(seq: number): void {
    const client = this.client;
    const entry = this.pending.get(seq);
    if (client === undefined || this.state !== 'online' || this.credential !== 'operational' || entry === undefined || entry.inFlight)
      return;
    entry.inFlight = true;
    entry.sentAt = this.env.now();
    client.publish(this.topic, entry.payload, { qos: 1 }, (error) => {
      const current = this.pending.get(seq);
      if (current !== entry) return;
      if (error !== undefined && error !== null) {
        entry.inFlight = false;
        return;
      }
      this.pending.delete(seq);
      this.stats.acknowledged++;
      const latency = this.env.now() - entry.sentAt;
      this.latency.record(latency);
      this.options.onAck?.(latency);
      if (this.pending.size === 0) this.notifyDrained();
    });
  }

  /** Checks again every `checkIntervalMs` (jittered) for as long as this connection lasts. */
  private scheduleUpdateChecks(client: MqttClient): void {
    const interval = this.options.updates?.checkIntervalMs;
    if (interval === undefined) return;
    this.env.clearTimer(this.checkTimer);
    this.checkTimer = this.env.setTimer(
      () => {
        if (this.client !== client || this.state !== 'online') return;
        this.checkForUpdates();
        this.scheduleUpdateChecks(client);
      },
      interval * (0.5 + this.env.random()),
    );
  }

  /** One update check at a time (the updater runs them single-file); its outcome is counted. */
  private checkForUpdates(): void {
    const updater = this.updater;
    if (updater === undefined || this.operational === undefined) return;
    this.stats.updateChecks++;
    updater.check().then(
      (check) => {
        this.stats.updateChecksDone++;
        if (check.result === 'refused') this.stats.updatesFailed++;
        if (check.result !== 'updated') return;
        for (const outcome of check.outcomes) {
          if (outcome.result === 'committed') this.stats.updatesInstalled++;
          else this.stats.updatesFailed++;
        }
      },
      // The server was unreachable or the connection broke: the next attestation or notice checks again.
      () => {
        this.stats.updateChecksDone++;
      },
    );
  }

  /** One recovery attempt; the platform decides whether this device may have a newer OS, and which. */
  private recover(): void {
    const updater = this.updater;
    if (updater === undefined || this.recoveryClient === undefined) return;
    this.stats.recoveryAttempts++;
    updater.recover().then(
      (check) => {
        if (check.result === 'refused') this.stats.recoveryRefusals++;
        if (check.result !== 'updated') return;
        for (const outcome of check.outcomes) {
          if (outcome.result === 'committed') this.stats.recoveries++;
          else this.stats.updatesFailed++;
        }
      },
      // No grant (the fault is not the OS's), or the server unreachable: the next refusal tries again.
      () => this.stats.recoveryRefusals++,
    );
  }

  /**
   * Failure reports go out on either credential (a quarantined device still
   * says why); heartbeats only on the operational one (the tenant's
   * figures count attested devices). Both QoS 1 until acknowledged.
   */
  private flushOutboxes(): void {
    const client = this.client;
    if (client === undefined || this.state !== 'online') return;
    this.failures.flush(client);
    if (this.credential === 'operational') this.heartbeats.flush(client);
  }

  get pendingFailureReports(): number {
    return this.failures.size;
  }

  private notifyDrained(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Stops producing readings; resolves when every pending reading is acknowledged or `timeoutMs` passes. */
  async stopPublishing(timeoutMs: number): Promise<boolean> {
    this.env.clearTimer(this.publishTimer);
    this.publishTimer = undefined;
    if (this.pending.size === 0) return true;
    return new Promise<boolean>((resolve) => {
      const timer = this.env.setTimer(() => resolve(false), timeoutMs);
      this.drainWaiters.push(() => {
        this.env.clearTimer(timer);
        resolve(true);
      });
    });
  }

  /** Publishes again after `stopPublishing` (a fleet that goes on after its report). */
  resumePublishing(): void {
    if (this.state === 'stopped' || this.state === 'idle' || this.publishTimer !== undefined || this.options.ratePerSecond <= 0) return;
    this.schedulePublish(this.env.random() * this.intervalMs());
  }

  /** Disconnects cleanly and stops reconnecting. */
  async stop(): Promise<void> {
    this.env.clearTimer(this.publishTimer);
    this.env.clearTimer(this.reconnectTimer);
    this.env.clearTimer(this.renewTimer);
    this.env.clearTimer(this.attestTimer);
    this.env.clearTimer(this.checkTimer);
    this.state = 'stopped';
    this.updateClient?.close();
    this.recoveryClient?.close();
    this.os?.shutdown();
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
  }
}
