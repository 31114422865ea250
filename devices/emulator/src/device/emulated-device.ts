import type { OsEnvironment, OsSinks, SecureOs } from '../os/secure-os.js';
import { PsaAttestor } from '../mcu/attestation-evidence.js';
import type { Attestor } from './attestor.js';
import type { SecuritySubsystem } from '../mcu/security-subsystem.js';
import { DeviceUpdater, type DeferralPolicy } from '../updates/device-updater.js';
import { RECOVERY_PATHS, UpdateClient, type UpdateClientOptions, type UpdateServer } from '../updates/update-client.js';
import { DeviceMachine } from './device-machine.js';
import type { Credential, DeviceEffect, DeviceEvent, DeviceTimer, OperationalCertificate } from './device-messages.js';
import { countEffect, countRecovery, countUpdateCheck, emptyDeviceStats, type DeviceStats } from './device-stats.js';
import { seedRandomState } from './device-random.js';
import { LatencyRecorder } from './latency-recorder.js';
import type { ConnectionRequest, MqttConnection, MqttTransport, TimerHandle } from './ports.js';

/** Where the device counts its starts (see the `claim-seq-epoch` effect). */
const SEQ_EPOCH_ENTRY = 'telemetry-epoch';

/** Clock, randomness and the MQTT client a device runs on (the OS shares the clock and randomness). */
export interface DeviceEnvironment extends OsEnvironment {
  /** The MQTT port (`realEnvironment`'s is `MqttJsTransport` on mqtt.js). */
  readonly transport: MqttTransport;
}

export type GatewayEndpoint =
  | { readonly kind: 'tls'; readonly host: string; readonly port: number; readonly servername?: string }
  | { readonly kind: 'dev'; readonly host: string; readonly port: number };

/**
 * What a device needs to attest: its security subsystem (the TLS key, its state), IDevID and the gateway's CA, and
 * the attestor of its evidence kind — by default a PSA token signed by the security subsystem; a device with a TPM
 * 2.0 passes a `TpmAttestor`. The boot state comes from its OS.
 */
export interface DeviceIdentity {
  readonly security: SecuritySubsystem;
  readonly identityCertificatePem: string;
  readonly gatewayCaPem: string;
  readonly attestor?: Attestor;
}

/** One attestation's outcome, as the device saw it. */
export type AttestationOutcome = { readonly pass: true } | { readonly pass: false; readonly reasons: readonly string[] };

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
  /** Told every attestation verdict (a pass issues or renews the operational certificate). */
  readonly onAttestation?: (outcome: AttestationOutcome) => void;
}

/**
 * One emulated device: the shell around its `DeviceMachine`. It makes no
 * decisions: it turns what happens (its OS booting, the transport's
 * connections and messages, timers firing, an app's reading) into the
 * machine's events, and performs the effects the machine returns through
 * its ports: the MQTT transport, the clock's timers, the security subsystem
 * that signs evidence, the state store and the updater.
 */
export class EmulatedDevice {
  private readonly machine: DeviceMachine;
  /** The connection the machine has open, by its number. */
  private link: { readonly id: number; readonly connection: MqttConnection } | undefined;
  private readonly timers = new Map<DeviceTimer, TimerHandle>();
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
  readonly attestor: Attestor | undefined;
  readonly latency: LatencyRecorder;

  constructor(
    private readonly options: DeviceOptions,
    private readonly env: DeviceEnvironment,
  ) {
    if (options.identity !== undefined && options.os === undefined) {
      throw new Error('a device that attests needs its secure OS: evidence carries what its secure boot measured');
    }
    if (options.endpoint.kind === 'tls' && options.identity === undefined) throw new Error('a TLS endpoint needs the device identity');
    // Made first: the OS's sinks feed it.
    this.machine = new DeviceMachine(
      {
        deviceId: options.deviceId,
        attests: options.endpoint.kind === 'tls',
        ratePerSecond: options.ratePerSecond,
        metricsPerReading: options.metricsPerReading,
        ...(options.traceSampleRatio === undefined ? {} : { traceSampleRatio: options.traceSampleRatio }),
        ...(options.maxPending === undefined ? {} : { maxPending: options.maxPending }),
        ...(options.reconnectSpreadMs === undefined ? {} : { reconnectSpreadMs: options.reconnectSpreadMs }),
        // The updater (below) exists exactly when the device has updates, an OS and an identity.
        updates: options.updates !== undefined && options.os !== undefined && options.identity !== undefined,
        ...(options.updates?.checkIntervalMs === undefined ? {} : { updateCheckIntervalMs: options.updates.checkIntervalMs }),
        ...(options.operational === undefined ? {} : { operational: options.operational }),
      },
      { now: env.now },
      seedRandomState(env.random),
    );
    this.latency = new LatencyRecorder(1_000, env.random);
    this.os = options.os?.({
      telemetry: (_app, metrics) => this.dispatch({ type: 'app-reading', metrics }),
      failure: (report) => this.dispatch({ type: 'failure-report', payload: JSON.stringify(report) }),
      heartbeat: (heartbeat) => this.dispatch({ type: 'heartbeat', payload: JSON.stringify(heartbeat) }),
    });
    const identity = options.identity;
    this.attestor =
      identity === undefined ? undefined : (identity.attestor ?? new PsaAttestor(identity.security, identity.identityCertificatePem));
    // The attestor measures (a TPM: extends its PCRs) before the machine hears of the boot and attests on it.
    this.os?.onBoot((result) => this.attestor?.booted(result));
    this.os?.onBoot(() => this.dispatch({ type: 'os-rebooted' }));
    const updates = options.updates;
    if (updates !== undefined && this.os !== undefined && identity !== undefined) {
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

  /** This start's number, counted in the device's state store (0 for a device without one). */
  private claimSeqEpoch(): number {
    const store = this.options.identity?.security.store;
    if (store === undefined) return 0;
    const epoch = Number(store.read(SEQ_EPOCH_ENTRY)?.toString('utf8') ?? '0');
    store.write(SEQ_EPOCH_ENTRY, Buffer.from(String(epoch + 1)));
    return epoch;
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
    await this.attestor?.shutdown();
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
      case 'request-attestation':
        this.answer(effect.connection, effect.topic, () => this.attestor?.request());
        return;
      case 'send-evidence': {
        const { challenge, traceparent } = effect;
        this.answer(effect.connection, effect.topic, () => {
          const evidence = this.attestor?.evidence(challenge);
          const traced = (made: object) => JSON.stringify(traceparent === undefined ? made : { ...made, traceparent });
          if (evidence === undefined) return undefined;
          return evidence instanceof Promise ? evidence.then(traced) : traced(evidence);
        });
        return;
      }
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
      case 'claim-seq-epoch':
        this.dispatch({ type: 'seq-epoch', epoch: this.claimSeqEpoch() });
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
      case 'attestation-passed':
        this.options.onAttestation?.({ pass: true });
        return;
      case 'attestation-refused':
        this.options.onAttestation?.({ pass: false, reasons: effect.reasons });
        return;
      case 'went-online':
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
    const connection = this.env.transport.open(this.connectionRequest(credential), {
      connected: () => this.dispatch({ type: 'connected', connection: id }),
      message: (topic, payload) => this.dispatch({ type: 'message', connection: id, topic, payload }),
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

  /**
   * Publishes what the attestor made on `connection`: at once when it answers synchronously (a PSA token), once its
   * promise settles otherwise (a TPM), and then only if that connection is still the one open. An attestor failure is
   * counted (attestorErrors) and nothing is sent; a publish that fails is counted apart (attestationPublishesDropped):
   * either way the machine's attestation timeout tries again.
   */
  private answer(connection: number, topic: string, make: () => string | Promise<string> | undefined): void {
    const failed = (error: unknown) => {
      this.stats.attestorErrors++;
      this.stats.lastAttestorError = error instanceof Error ? error.message : String(error);
    };
    const send = (payload: string) => {
      const dropped = () => this.stats.attestationPublishesDropped++;
      try {
        this.connectionFor(connection)?.publish(topic, payload, (error) => {
          if (error !== undefined) dropped();
        });
      } catch {
        dropped();
      }
    };
    let made: string | Promise<string> | undefined;
    try {
      made = make();
    } catch (error) {
      failed(error);
      return;
    }
    if (made === undefined) return;
    if (typeof made === 'string') {
      send(made);
      return;
    }
    made.then(send, failed);
  }
}
