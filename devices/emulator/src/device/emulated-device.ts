import { attestResponseTopic, deviceCommandTopic, deviceTopic, type DeviceTelemetry } from '@rampart/contracts';
import type { OsSinks, SecureOs } from '../os/secure-os.js';
import { createSignedEvidence } from '../mcu/attestation-evidence.js';
import type { SecuritySubsystem } from '../mcu/security-subsystem.js';
import { DeviceUpdater, type DeferralPolicy } from '../updates/device-updater.js';
import { RECOVERY_PATHS, UpdateClient, type UpdateClientOptions, type UpdateServer } from '../updates/update-client.js';
import { attestResponseEvent } from './attest-response.js';
import { DeviceMachine } from './device-machine.js';
import type { Credential, DeviceEffect, DeviceEvent, DeviceTimer, OperationalCertificate } from './device-messages.js';
import { countEffect, countRecovery, countUpdateCheck, emptyDeviceStats, type DeviceStats } from './device-stats.js';
import { LatencyRecorder } from './latency-recorder.js';
import { MqttJsTransport, type ConnectFn } from './mqtt-js-transport.js';
import { randomSourceFrom, type ConnectionRequest, type MqttConnection, type MqttTransport, type RandomSource } from './ports.js';
import { TelemetrySource } from './telemetry-source.js';

/** Each start of a device takes a new block of telemetry sequence numbers this large. */
const SEQ_EPOCH = 2 ** 32;
const SEQ_EPOCH_ENTRY = 'telemetry-epoch';

/** Clock, randomness and the MQTT client a device runs on (the OS shares the first three). */
export interface DeviceEnvironment {
  readonly now: () => number;
  readonly random: () => number;
  readonly setTimer: (fn: () => void, ms: number) => NodeJS.Timeout;
  readonly clearTimer: (timer: NodeJS.Timeout | undefined) => void;
  /** mqtt.js's `connect` (or a stand-in with its shape); the device reaches it through `MqttJsTransport`. */
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

/**
 * One emulated device: the shell around its `DeviceMachine`. It feeds the
 * machine events (its OS booting, the transport's connections and
 * messages, timers firing, readings made) and performs the effects the
 * machine returns through its ports: the MQTT transport, the clock's
 * timers, the random source, the security subsystem that signs evidence
 * and the updater.
 */
export class EmulatedDevice {
  private readonly machine: DeviceMachine;
  private readonly transport: MqttTransport;
  private readonly random: RandomSource;
  /** The connection the machine has open, by its number. */
  private link: { readonly id: number; readonly connection: MqttConnection } | undefined;
  private readonly timers = new Map<DeviceTimer, NodeJS.Timeout>();
  private readonly source: TelemetrySource;
  private drainWaiters: Array<() => void> = [];
  /** The power-on in progress (`reboot()` waits for it). */
  private powering: Promise<unknown> | undefined;
  /** The clean disconnect in progress (`stop()` waits for it). */
  private disconnecting: Promise<void> | undefined;
  readonly stats: DeviceStats = emptyDeviceStats();
  private readonly updater: DeviceUpdater | undefined;
  private readonly updateClient: UpdateClient | undefined;
  private readonly recoveryClient: UpdateClient | undefined;
  readonly os: SecureOs | undefined;
  readonly latency: LatencyRecorder;

  constructor(
    private readonly options: DeviceOptions,
    private readonly env: DeviceEnvironment,
    /** The MQTT port; by default mqtt.js through `env.connect`. */
    transport?: MqttTransport,
  ) {
    if (options.identity !== undefined && options.os === undefined) {
      throw new Error('a device that attests needs its secure OS: evidence carries what its secure boot measured');
    }
    if (options.endpoint.kind === 'tls' && options.identity === undefined) throw new Error('a TLS endpoint needs the device identity');
    this.random = randomSourceFrom(env.random);
    // Made first: the OS's sinks feed it.
    this.machine = new DeviceMachine(
      {
        deviceId: options.deviceId,
        attests: options.endpoint.kind === 'tls',
        ratePerSecond: options.ratePerSecond,
        ...(options.maxPending === undefined ? {} : { maxPending: options.maxPending }),
        ...(options.reconnectSpreadMs === undefined ? {} : { reconnectSpreadMs: options.reconnectSpreadMs }),
        // The updater (below) exists exactly when the device has updates, an OS and an identity.
        updates: options.updates !== undefined && options.os !== undefined && options.identity !== undefined,
        ...(options.updates?.checkIntervalMs === undefined ? {} : { updateCheckIntervalMs: options.updates.checkIntervalMs }),
        ...(options.operational === undefined ? {} : { operational: options.operational }),
      },
      { now: env.now },
      this.random,
    );
    this.transport = transport ?? new MqttJsTransport(env.connect);
    this.source = new TelemetrySource(options.metricsPerReading, env.random, this.takeSeqEpoch());
    this.latency = new LatencyRecorder(1_000, env.random);
    this.os = options.os?.({
      telemetry: (_app, metrics) => this.produce(metrics),
      failure: (report) => this.dispatch({ type: 'failure-report', payload: JSON.stringify(report) }),
      heartbeat: (heartbeat) => this.dispatch({ type: 'heartbeat', payload: JSON.stringify(heartbeat) }),
    });
    this.os?.onBoot(() => this.dispatch({ type: 'os-rebooted' }));
    const updates = options.updates;
    if (updates !== undefined && this.os !== undefined && options.identity !== undefined) {
      const identity = options.identity;
      const client = new UpdateClient(
        updates.server,
        () => {
          const certificate = this.machine.operationalCertificate;
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
    return this.machine.operationalCertificate !== undefined;
  }

  get operationalCertificate(): OperationalCertificate | undefined {
    return this.machine.operationalCertificate;
  }

  get deviceId(): string {
    return this.options.deviceId;
  }

  get online(): boolean {
    return this.machine.phase === 'online';
  }

  get pendingCount(): number {
    return this.machine.pendingReadings;
  }

  get pendingFailureReports(): number {
    return this.machine.pendingFailureReports;
  }

  /** Boots (when the device has an OS), connects and starts publishing. */
  start(): void {
    this.dispatch({ type: 'start' });
  }

  /**
   * Restarts the device: the connection drops, the OS boots again, and the
   * device attests again on its manufacturer identity before it may send
   * telemetry (its operational certificate is not trusted across a reboot).
   */
  async reboot(): Promise<void> {
    const before = this.powering;
    this.dispatch({ type: 'reboot' });
    // A reboot the machine ignored (the device is off) started no power-on.
    if (this.powering !== before) await this.powering;
  }

  /** The connection drops as if the broker went away (a reconnect-storm rehearsal from the device side). */
  loseConnection(): void {
    this.dispatch({ type: 'lose-connection' });
  }

  /** Stops producing readings; resolves when every pending reading is acknowledged or `timeoutMs` passes. */
  async stopPublishing(timeoutMs: number): Promise<boolean> {
    this.dispatch({ type: 'publishing-stopped' });
    if (this.machine.pendingReadings === 0) return true;
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
    this.dispatch({ type: 'publishing-resumed' });
  }

  /** Disconnects cleanly and stops reconnecting. */
  async stop(): Promise<void> {
    const before = this.disconnecting;
    this.dispatch({ type: 'stop' });
    this.updateClient?.close();
    this.recoveryClient?.close();
    this.os?.shutdown();
    if (this.disconnecting !== before) await this.disconnecting;
  }

  private dispatch(event: DeviceEvent): void {
    for (const effect of this.machine.handle(event)) {
      countEffect(this.stats, effect);
      this.perform(effect);
    }
  }

  private perform(effect: DeviceEffect): void {
    switch (effect.type) {
      case 'power-on':
        this.powerOn(effect.after);
        return;
      case 'open':
        this.open(effect.connection, effect.credential);
        return;
      case 'close':
        this.takeConnection(effect.connection)?.close();
        return;
      case 'disconnect': {
        const connection = this.takeConnection(effect.connection);
        if (connection !== undefined) this.disconnecting = connection.end();
        return;
      }
      case 'subscribe':
        this.connectionFor(effect.connection)?.subscribe(effect.topics, (error) =>
          this.dispatch({ type: 'subscribed', connection: effect.connection, ok: error === undefined }),
        );
        return;
      case 'publish': {
        const tag = effect.tag;
        this.connectionFor(effect.connection)?.publish(
          effect.topic,
          effect.payload,
          tag === undefined ? undefined : (error) => this.dispatch({ type: 'published', tag, ok: error === undefined }),
        );
        return;
      }
      case 'send-evidence':
        this.sendEvidence(effect.connection, effect.nonce);
        return;
      case 'set-timer': {
        const timer = effect.timer;
        this.env.clearTimer(this.timers.get(timer));
        this.timers.set(
          timer,
          this.env.setTimer(() => {
            this.timers.delete(timer);
            this.dispatch({ type: 'timer', timer });
          }, effect.ms),
        );
        return;
      }
      case 'clear-timer':
        this.env.clearTimer(this.timers.get(effect.timer));
        this.timers.delete(effect.timer);
        return;
      case 'produce-reading':
        this.produce();
        return;
      case 'check-updates':
        // The updater runs checks single-file; a failure (server unreachable, connection broken) is only counted:
        // the next attestation or notice checks again.
        this.updater?.check().then(
          (check) => countUpdateCheck(this.stats, check),
          () => countUpdateCheck(this.stats, undefined),
        );
        return;
      case 'recover':
        // The platform decides whether this device may have a newer OS, and which; a refusal is retried on the next.
        this.updater?.recover().then(
          (check) => countRecovery(this.stats, check),
          () => countRecovery(this.stats, undefined),
        );
        return;
      case 'acknowledged':
        this.latency.record(effect.latencyMs);
        this.options.onAck?.(effect.latencyMs);
        return;
      case 'drained': {
        const waiters = this.drainWaiters;
        this.drainWaiters = [];
        for (const resolve of waiters) resolve();
        return;
      }
      case 'went-online':
      case 'attestation-refused':
      case 'count':
        // Counted only (see countEffect).
        return;
    }
  }

  private powerOn(after: 'start' | 'reboot'): void {
    const os = this.os;
    if (after === 'reboot') os?.shutdown();
    const booted = os === undefined ? Promise.resolve() : os.powerOn();
    this.powering = booted;
    booted.then(
      () => this.dispatch({ type: 'booted', after }),
      // A power-on that throws at start is a device that never comes up; a reboot's failure is reboot()'s to report.
      () => {
        if (after === 'start') this.dispatch({ type: 'boot-failed' });
      },
    );
  }

  private open(id: number, credential: Credential): void {
    const connection = this.transport.open(this.connectionRequest(credential), {
      connected: () => this.dispatch({ type: 'connected', connection: id }),
      message: (topic, payload) => this.onMessage(id, topic, payload),
      lost: () => this.dispatch({ type: 'connection-lost', connection: id }),
    });
    this.link = { id, connection };
  }

  private connectionRequest(credential: Credential): ConnectionRequest {
    const { endpoint, deviceId, identity } = this.options;
    const address = { clientId: deviceId, host: endpoint.host, port: endpoint.port };
    if (credential.kind === 'plain' || endpoint.kind !== 'tls' || identity === undefined) return address;
    const certificatePem =
      credential.kind === 'identity'
        ? identity.identityCertificatePem
        : `${credential.certificate.certificatePem}${credential.certificate.chainPem}`;
    return {
      ...address,
      tls: {
        secureContext: identity.security.tlsContext(certificatePem, identity.gatewayCaPem),
        servername: endpoint.servername ?? 'localhost',
      },
    };
  }

  private connectionFor(id: number): MqttConnection | undefined {
    return this.link?.id === id ? this.link.connection : undefined;
  }

  /** Connection `id`, forgotten (it is being closed). */
  private takeConnection(id: number): MqttConnection | undefined {
    const connection = this.connectionFor(id);
    if (connection !== undefined) this.link = undefined;
    return connection;
  }

  private onMessage(connection: number, topic: string, payload: Buffer): void {
    if (topic === attestResponseTopic(this.options.deviceId)) {
      const event = attestResponseEvent(connection, payload);
      if (event !== undefined) this.dispatch(event);
    } else if (topic === deviceCommandTopic(this.options.deviceId, 'update-check')) {
      this.dispatch({ type: 'update-notice', connection });
    }
  }

  /** Signed evidence for `nonce`; traced like a reading, the trace context riding beside the evidence, not in it. */
  private sendEvidence(connection: number, nonce: string): void {
    const { identity } = this.options;
    const os = this.os;
    if (identity === undefined || os === undefined) return;
    const evidence = createSignedEvidence(identity.security, identity.identityCertificatePem, nonce, os.bootState);
    const traceparent = this.newTraceparent();
    this.connectionFor(connection)?.publish(
      deviceTopic(this.options.deviceId, 'attestEvidence'),
      JSON.stringify(traceparent === undefined ? evidence : { ...evidence, traceparent }),
    );
  }

  /**
   * A new trace for a message the device sends, for `traceSampleRatio` of them. The device is the trace's
   * root: the gateway's span is its child. (MQTT 3.1.1 has no headers: the context rides in the payload.)
   */
  private newTraceparent(): string | undefined {
    const ratio = this.options.traceSampleRatio ?? 0;
    if (ratio <= 0 || this.random.fraction() >= ratio) return undefined;
    return `00-${this.random.hex(16)}-${this.random.hex(8)}-01`;
  }

  /** The next reading: synthetic load, or an app's metrics. */
  private produce(metrics?: Record<string, number>): void {
    const now = Math.round(this.env.now());
    const produced: DeviceTelemetry = metrics === undefined ? this.source.next(now) : this.source.reading(now, metrics);
    const traceparent = this.newTraceparent();
    const reading = traceparent === undefined ? produced : { ...produced, traceparent };
    this.dispatch({ type: 'reading', seq: reading.seq, payload: Buffer.from(JSON.stringify(reading)) });
  }
}
