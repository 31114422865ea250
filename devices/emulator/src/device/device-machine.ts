import { RECOVERABLE_REASONS, attestResponseTopic, deviceCommandTopic, deviceTopic } from '@rampart/contracts';
import { DEFAULT_RECONNECT_SPREAD_MS, fullJitterBackoff, reconnectBackoff } from './backoff.js';
import type { DeviceTelemetry } from '@rampart/contracts';
import { attestResponseEvent } from './attest-response.js';
import type {
  AttestChallenge,
  DeviceCounter,
  DeviceEffect,
  DeviceEvent,
  DeviceTimer,
  OperationalCertificate,
  PublishTag,
  TimedEvent,
} from './device-messages.js';
import { drawFraction, type RandomState } from './device-random.js';
import { Outbox } from './outbox.js';
import { QosStore } from './qos-store.js';
import { appReading, initialTelemetry, syntheticReading, type TelemetryState } from './telemetry-source.js';

/** Readings a device buffers while offline before it drops the oldest. */
export const DEFAULT_MAX_PENDING = 10_000;
/** Failure reports a device keeps while offline before it drops the oldest. */
export const MAX_PENDING_FAILURES = 256;
/** Uptime heartbeats a device keeps while offline (a week of hourly ones) before it drops the oldest. */
export const MAX_PENDING_HEARTBEATS = 168;
/** How long a device waits for its attestation verdict before it reconnects and tries again. */
export const ATTESTATION_TIMEOUT_MS = 30_000;
/** Renew the operational certificate once this share of its lifetime has passed. */
export const RENEW_AT_LIFETIME = 0.8;
/** Each start of a device takes a new block of telemetry sequence numbers this large. */
export const SEQ_EPOCH = 2 ** 32;

export type DevicePhase = 'idle' | 'booting' | 'connecting' | 'online' | 'backoff' | 'stopped';

export interface DeviceMachineConfig {
  readonly deviceId: string;
  /** A TLS endpoint: the device attests on its IDevID, then works on its operational certificate. */
  readonly attests: boolean;
  /** Synthetic readings per second (0: only what apps send). */
  readonly ratePerSecond: number;
  readonly metricsPerReading: number;
  /** Share of readings (and evidence) the device traces: a W3C traceparent in the payload. Default 0. */
  readonly traceSampleRatio?: number;
  readonly maxPending?: number;
  /** First-retry window after losing a connection that was up (see `DEFAULT_RECONNECT_SPREAD_MS`). */
  readonly reconnectSpreadMs?: number;
  /** The device can check for updates (and take the recovery path) once it holds an operational certificate. */
  readonly updates: boolean;
  /** Checks again this often while connected, each wait drawn from ½–1½ × it. */
  readonly updateCheckIntervalMs?: number;
  /** An operational certificate issued earlier (the device skips attestation until it expires). */
  readonly operational?: OperationalCertificate;
}

/** The clock the machine class stamps events with (it sets no timers itself: those are effects). */
export interface MachineClock {
  readonly now: () => number;
}

/**
 * Everything a device's logic knows, as a value: nothing in it changes
 * after it is made, so a state can be kept, compared and replayed. The
 * QoS 1 stores are persistent values too (each change returns a new store
 * that shares what did not change), and so is the random generator.
 */
export interface DeviceState {
  readonly config: DeviceMachineConfig;
  readonly phase: DevicePhase;
  /** The current connection's number; events from any other are stale. */
  readonly connection: number | undefined;
  readonly connectionsOpened: number;
  /** Which certificate the current connection uses. */
  readonly credential: 'identity' | 'operational';
  readonly attempt: number;
  /** Retrying after losing an established connection (wide first window), not after a failed first connect. */
  readonly spreading: boolean;
  readonly publishing: boolean;
  readonly operational: OperationalCertificate | undefined;
  /** Readings by sequence number until their PUBACK. */
  readonly readings: QosStore<Buffer>;
  readonly failures: Outbox;
  readonly heartbeats: Outbox;
  readonly telemetry: TelemetryState;
  readonly random: RandomState;
}

/** What one step made of an event: the state after it and what to do, in order. */
export interface DeviceStep {
  readonly state: DeviceState;
  readonly effects: readonly DeviceEffect[];
}

/** A device that has not started yet; `random` seeds everything it draws (jitter, drift, trace sampling). */
export function initialDeviceState(config: DeviceMachineConfig, random: RandomState): DeviceState {
  const maxPending = config.maxPending ?? DEFAULT_MAX_PENDING;
  const ratio = config.traceSampleRatio ?? 0;
  if (!(ratio >= 0 && ratio <= 1)) throw new Error(`traceSampleRatio must be within [0, 1], got ${ratio}`);
  if (!(config.ratePerSecond >= 0)) throw new Error(`ratePerSecond must be 0 or more, got ${config.ratePerSecond}`);
  let seed = random;
  const draw = () => {
    const next = drawFraction(seed);
    seed = next.state;
    return next.fraction;
  };
  const telemetry = initialTelemetry(config.metricsPerReading, draw);
  return {
    config,
    phase: 'idle',
    connection: undefined,
    connectionsOpened: 0,
    credential: 'identity',
    attempt: 0,
    spreading: false,
    publishing: false,
    operational: config.operational,
    readings: QosStore.empty(maxPending),
    failures: Outbox.empty(MAX_PENDING_FAILURES),
    heartbeats: Outbox.empty(MAX_PENDING_HEARTBEATS),
    telemetry,
    random: seed,
  };
}

/**
 * One device's connection, attestation and telemetry logic: applies `event`
 * to `state` and returns the new state and the effects to perform (connect,
 * publish, subscribe, timers, update checks). A pure function: it does no
 * I/O and reads no clock (the event carries its time), and its randomness
 * is the state's own generator, so the same state and events give the same
 * states and effects every time.
 *
 * The device connects, publishes readings with QoS 1, keeps each until its
 * PUBACK arrives and resends what is pending after a reconnect; on a TLS
 * endpoint it first attests on its IDevID and reconnects on the operational
 * certificate it is given, renewing it at 80 % of its lifetime. It
 * reconnects with exponential backoff and full jitter.
 */
export function step(state: DeviceState, event: TimedEvent): DeviceStep {
  const transition = new Transition(state, event.at);
  transition.apply(event);
  return { state: transition.next, effects: transition.effects };
}

/** The machine's current state, stepped by each event (time from `clock`); the shell holds one. */
export class DeviceMachine {
  private current: DeviceState;

  constructor(
    config: DeviceMachineConfig,
    private readonly clock: MachineClock,
    random: RandomState,
  ) {
    this.current = initialDeviceState(config, random);
  }

  get state(): DeviceState {
    return this.current;
  }

  get phase(): DevicePhase {
    return this.current.phase;
  }

  get operationalCertificate(): OperationalCertificate | undefined {
    return this.current.operational;
  }

  get pendingReadings(): number {
    return this.current.readings.size;
  }

  get pendingFailureReports(): number {
    return this.current.failures.size;
  }

  /** Applies `event` now; returns what to do, in order. */
  handle(event: DeviceEvent): readonly DeviceEffect[] {
    const { state, effects } = step(this.current, { ...event, at: this.clock.now() });
    this.current = state;
    return effects;
  }
}

type Draft = { -readonly [K in keyof DeviceState]: DeviceState[K] };

/**
 * One step's working copy: `step` makes one per event and throws it away,
 * so its in-place updates of its own copy are never seen from outside.
 * (Written as methods on a draft so each rule reads as one sentence.)
 */
class Transition {
  readonly next: Draft;
  readonly effects: DeviceEffect[] = [];
  private readonly config: DeviceMachineConfig;

  constructor(
    state: DeviceState,
    private readonly now: number,
  ) {
    this.next = { ...state };
    this.config = state.config;
  }

  apply(event: DeviceEvent): void {
    const s = this.next;
    switch (event.type) {
      case 'start':
        if (s.phase !== 'idle') return;
        s.phase = 'booting';
        this.emit({ type: 'claim-seq-epoch' });
        this.emit({ type: 'power-on', after: 'start' });
        return;
      case 'seq-epoch':
        s.telemetry = { ...s.telemetry, nextSeq: event.epoch * SEQ_EPOCH };
        return;
      case 'booted':
        if (s.phase !== 'booting') return;
        this.connect();
        if (event.after === 'start' && this.config.ratePerSecond > 0) this.schedulePublish(this.fraction() * this.intervalMs());
        return;
      case 'boot-failed':
        // A power-on that throws is a device that never comes up; it stays off.
        s.phase = 'stopped';
        return;
      case 'reboot':
        // The operational certificate is not trusted across a reboot: the device attests again on its IDevID.
        if (s.phase === 'stopped' || s.phase === 'idle') return;
        this.dropConnection();
        this.forgetOperational();
        this.count('reboots');
        s.phase = 'booting';
        this.emit({ type: 'power-on', after: 'reboot' });
        return;
      case 'os-rebooted':
        // While booting (power-on, reboot) the device connects afresh anyway; otherwise — even mid-connect — it must re-attest.
        if (s.phase === 'booting' || s.phase === 'idle' || s.phase === 'stopped') return;
        this.count('reboots');
        this.dropConnection();
        this.forgetOperational();
        this.connect();
        return;
      case 'lose-connection':
        if (s.phase === 'online') this.connectionLost();
        return;
      case 'connected':
        if (this.isCurrent(event.connection)) this.onConnected();
        return;
      case 'subscribed':
        if (this.isCurrent(event.connection) && event.ok) this.onSubscribed();
        return;
      case 'connection-lost':
        if (this.isCurrent(event.connection)) this.connectionLost();
        return;
      case 'message':
        this.onMessage(event.connection, event.topic, event.payload);
        return;
      case 'challenge':
        if (s.connection !== undefined && this.isCurrent(event.connection)) this.sendEvidence(s.connection, event.challenge);
        return;
      case 'attestation-passed':
        if (this.isCurrent(event.connection)) this.onAttestationPassed(event.certificate, event.validFrom, event.validTo);
        return;
      case 'attestation-refused':
        if (this.isCurrent(event.connection)) this.onAttestationRefused(event.reasons);
        return;
      case 'update-notice':
        if (this.isCurrent(event.connection)) this.checkForUpdates();
        return;
      case 'timer':
        this.onTimer(event.timer);
        return;
      case 'app-reading':
        this.addReading(appReading(s.telemetry, Math.round(this.now), event.metrics));
        return;
      case 'published':
        this.onPublished(event.tag, event.ok);
        return;
      case 'failure-report': {
        const { outbox, dropped } = s.failures.add(event.payload);
        s.failures = outbox;
        if (dropped) this.count('failureReportsDropped');
        this.flushOutboxes();
        return;
      }
      case 'heartbeat': {
        const { outbox, dropped } = s.heartbeats.add(event.payload);
        s.heartbeats = outbox;
        if (dropped) this.count('heartbeatsDropped');
        this.flushOutboxes();
        return;
      }
      case 'publishing-stopped':
        s.publishing = false;
        this.emit({ type: 'clear-timer', timer: 'publish' });
        return;
      case 'publishing-resumed':
        if (s.phase === 'stopped' || s.phase === 'idle' || s.publishing || this.config.ratePerSecond <= 0) return;
        this.schedulePublish(this.fraction() * this.intervalMs());
        return;
      case 'stop':
        this.stop();
        return;
    }
  }

  /** The attestation response topic carries nonces and verdicts; the commands topic, update notices. */
  private onMessage(connection: number, topic: string, payload: Buffer): void {
    const { deviceId } = this.config;
    if (topic === attestResponseTopic(deviceId)) {
      const response = attestResponseEvent(connection, payload);
      if (response !== undefined) this.apply(response);
    } else if (topic === deviceCommandTopic(deviceId, 'update-check')) {
      this.apply({ type: 'update-notice', connection });
    }
  }

  private onTimer(timer: DeviceTimer): void {
    const s = this.next;
    switch (timer) {
      case 'publish':
        if (s.phase === 'stopped') return;
        this.addReading(syntheticReading(s.telemetry, Math.round(this.now), () => this.fraction()));
        this.schedulePublish(this.intervalMs());
        return;
      case 'reconnect':
        if (s.phase === 'backoff') this.connect();
        return;
      case 'renew':
        if (s.phase === 'online') this.requestAttestation();
        return;
      case 'attest':
        // No verdict in time (a message shed under load, a service restart): reconnect with backoff and try again.
        this.count('attestationTimeouts');
        this.connectionLost();
        return;
      case 'update-check':
        if (s.phase !== 'online') return;
        this.checkForUpdates();
        this.scheduleUpdateChecks();
        return;
    }
  }

  private connect(): void {
    const s = this.next;
    s.phase = 'connecting';
    if (s.operational !== undefined && s.operational.notAfter <= this.now) s.operational = undefined;
    const connection = ++s.connectionsOpened;
    s.connection = connection;
    if (!this.config.attests) {
      s.credential = 'operational';
      this.emit({ type: 'open', connection, credential: { kind: 'plain' } });
      return;
    }
    const certificate = s.operational;
    s.credential = certificate === undefined ? 'identity' : 'operational';
    this.emit({
      type: 'open',
      connection,
      credential: certificate === undefined ? { kind: 'identity' } : { kind: 'operational', certificate },
    });
  }

  private onConnected(): void {
    const s = this.next;
    const connection = s.connection;
    if (connection === undefined) return;
    s.phase = 'online';
    s.attempt = 0;
    s.spreading = false;
    this.emit({ type: 'went-online' });
    this.flushOutboxes();
    if (!this.config.attests) {
      this.resendPending();
      return;
    }
    // Ask only once the response topic is subscribed: an answer published before the broker has the
    // subscription would be lost.
    const topics = [attestResponseTopic(this.config.deviceId)];
    if (s.credential === 'operational') topics.push(deviceCommandTopic(this.config.deviceId, '#'));
    this.emit({ type: 'subscribe', connection, topics });
  }

  private onSubscribed(): void {
    if (this.next.credential === 'identity') {
      this.requestAttestation();
      return;
    }
    this.resendPending();
    // Devices learn of updates at attestation: the first thing on a fresh operational connection.
    this.checkForUpdates();
    this.scheduleUpdateChecks();
  }

  /** Asks for a challenge (the attestor writes the request), and gives up on the verdict after `ATTESTATION_TIMEOUT_MS`. */
  private requestAttestation(): void {
    const connection = this.next.connection;
    if (connection === undefined) return;
    this.emit({ type: 'set-timer', timer: 'attest', ms: ATTESTATION_TIMEOUT_MS });
    this.emit({ type: 'request-attestation', connection, topic: deviceTopic(this.config.deviceId, 'attestRequest') });
  }

  /** Evidence is traced like a reading; the trace context rides beside the evidence, not in it. */
  private sendEvidence(connection: number, challenge: AttestChallenge): void {
    const traceparent = this.newTraceparent();
    this.emit({
      type: 'send-evidence',
      connection,
      topic: deviceTopic(this.config.deviceId, 'attestEvidence'),
      challenge,
      ...(traceparent === undefined ? {} : { traceparent }),
    });
  }

  private onAttestationPassed(certificate: OperationalCertificate, validFrom: number, validTo: number): void {
    const s = this.next;
    this.emit({ type: 'clear-timer', timer: 'attest' });
    this.count('attestations');
    this.emit({ type: 'attestation-passed' });
    s.operational = certificate;
    const renewAt = validFrom + (validTo - validFrom) * RENEW_AT_LIFETIME;
    this.emit({ type: 'set-timer', timer: 'renew', ms: Math.max(0, renewAt - this.now) });
    if (s.credential === 'identity') {
      // Reconnect at once with the operational certificate: no backoff for a planned switch.
      this.dropConnection();
      this.connect();
    }
  }

  private onAttestationRefused(reasons: readonly string[]): void {
    this.emit({ type: 'clear-timer', timer: 'attest' });
    this.emit({ type: 'attestation-refused', reasons });
    // Quarantined: drop the connection and try again later, with backoff.
    this.connectionLost();
    // Refused only for what a newer OS cures: fetch it on the recovery path (its reboot attests again).
    const recoverable = reasons.length > 0 && reasons.every((reason) => RECOVERABLE_REASONS.includes(reason as never));
    if (recoverable && this.config.updates) this.emit({ type: 'recover' });
  }

  /**
   * A connection that was up and dropped (a broker restart drops everyone at once) retries over the wide
   * reconnect spread; a failing connect attempt keeps backing off from where it is.
   */
  private connectionLost(): void {
    const s = this.next;
    this.dropConnection();
    if (s.phase === 'stopped') return;
    if (s.phase === 'online') s.spreading = true;
    if (s.phase === 'connecting') this.count('connectFailures');
    s.phase = 'backoff';
    this.count('reconnects');
    const random = () => this.fraction();
    const attempt = s.attempt++;
    const delay = s.spreading
      ? reconnectBackoff(attempt, random, this.config.reconnectSpreadMs ?? DEFAULT_RECONNECT_SPREAD_MS)
      : fullJitterBackoff(attempt, random);
    this.emit({ type: 'set-timer', timer: 'reconnect', ms: delay });
  }

  /** Closes the current connection; what was in flight waits for the next one. */
  private dropConnection(): void {
    const s = this.next;
    if (s.connection !== undefined) this.emit({ type: 'close', connection: s.connection });
    s.connection = undefined;
    this.emit({ type: 'clear-timer', timer: 'reconnect' });
    this.emit({ type: 'clear-timer', timer: 'update-check' });
    // The verdict it waited for can no longer arrive on this connection.
    this.emit({ type: 'clear-timer', timer: 'attest' });
    s.readings = s.readings.idle();
    s.failures = s.failures.connectionLost();
    s.heartbeats = s.heartbeats.connectionLost();
  }

  private forgetOperational(): void {
    this.next.operational = undefined;
    this.emit({ type: 'clear-timer', timer: 'renew' });
  }

  private stop(): void {
    const s = this.next;
    for (const timer of ['publish', 'reconnect', 'renew', 'attest', 'update-check'] as const) this.emit({ type: 'clear-timer', timer });
    s.phase = 'stopped';
    s.publishing = false;
    if (s.connection !== undefined) this.emit({ type: 'disconnect', connection: s.connection });
    s.connection = undefined;
  }

  private intervalMs(): number {
    return 1000 / this.config.ratePerSecond;
  }

  private schedulePublish(ms: number): void {
    this.next.publishing = true;
    this.emit({ type: 'set-timer', timer: 'publish', ms });
  }

  /** Keeps a new reading (traced for `traceSampleRatio` of them) and sends it if it can. */
  private addReading(made: { readonly reading: DeviceTelemetry; readonly telemetry: TelemetryState }): void {
    const s = this.next;
    s.telemetry = made.telemetry;
    const traceparent = this.newTraceparent();
    const reading = traceparent === undefined ? made.reading : { ...made.reading, traceparent };
    this.count('published');
    const { store, dropped } = s.readings.add(reading.seq, Buffer.from(JSON.stringify(reading)));
    s.readings = store;
    if (dropped) this.count('dropped');
    this.send(reading.seq);
  }

  /**
   * A new trace for a message the device sends, for `traceSampleRatio` of them. The device is the trace's
   * root: the gateway's span is its child. (MQTT 3.1.1 has no headers: the context rides in the payload.)
   */
  private newTraceparent(): string | undefined {
    const ratio = this.config.traceSampleRatio ?? 0;
    if (ratio <= 0 || this.fraction() >= ratio) return undefined;
    return `00-${this.hex(16)}-${this.hex(8)}-01`;
  }

  private send(seq: number): void {
    const s = this.next;
    const connection = s.connection;
    if (connection === undefined || s.phase !== 'online' || s.credential !== 'operational') return;
    const entry = s.readings.get(seq);
    if (entry === undefined || entry.inFlight) return;
    s.readings = s.readings.sent(seq, this.now);
    this.emit({
      type: 'publish',
      connection,
      topic: deviceTopic(this.config.deviceId, 'telemetry'),
      payload: entry.payload,
      tag: { store: 'readings', seq },
    });
  }

  private resendPending(): void {
    for (const { key } of this.next.readings.entries()) this.send(key);
  }

  private onPublished(tag: PublishTag, ok: boolean): void {
    const s = this.next;
    switch (tag.store) {
      case 'readings': {
        if (!ok) {
          s.readings = s.readings.failed(tag.seq);
          return;
        }
        const { store, entry } = s.readings.remove(tag.seq);
        if (entry === undefined) return;
        s.readings = store;
        this.emit({ type: 'acknowledged', latencyMs: this.now - entry.sentAt });
        if (store.size === 0) this.emit({ type: 'drained' });
        return;
      }
      case 'failures': {
        const { outbox, acknowledged } = s.failures.settle(tag.id, ok);
        s.failures = outbox;
        if (acknowledged) this.count('failureReportsSent');
        return;
      }
      case 'heartbeats': {
        const { outbox, acknowledged } = s.heartbeats.settle(tag.id, ok);
        s.heartbeats = outbox;
        if (acknowledged) this.count('heartbeatsSent');
        return;
      }
    }
  }

  /**
   * Failure reports go out on either credential (a quarantined device still says why); heartbeats only on the
   * operational one (the tenant's figures count attested devices). Both QoS 1 until acknowledged.
   */
  private flushOutboxes(): void {
    const s = this.next;
    const connection = s.connection;
    if (connection === undefined || s.phase !== 'online') return;
    const failures = s.failures.takeUnsent();
    s.failures = failures.outbox;
    const failuresTopic = deviceTopic(this.config.deviceId, 'failures');
    for (const { id, payload } of failures.taken)
      this.emit({ type: 'publish', connection, topic: failuresTopic, payload, tag: { store: 'failures', id } });
    if (s.credential !== 'operational') return;
    const heartbeats = s.heartbeats.takeUnsent();
    s.heartbeats = heartbeats.outbox;
    const heartbeatsTopic = deviceTopic(this.config.deviceId, 'heartbeat');
    for (const { id, payload } of heartbeats.taken)
      this.emit({ type: 'publish', connection, topic: heartbeatsTopic, payload, tag: { store: 'heartbeats', id } });
  }

  private checkForUpdates(): void {
    if (this.config.updates && this.next.operational !== undefined) this.emit({ type: 'check-updates' });
  }

  /** Checks again every `updateCheckIntervalMs` (jittered) for as long as this connection lasts. */
  private scheduleUpdateChecks(): void {
    const interval = this.config.updateCheckIntervalMs;
    if (interval === undefined) return;
    this.emit({ type: 'set-timer', timer: 'update-check', ms: interval * (0.5 + this.fraction()) });
  }

  private isCurrent(connection: number): boolean {
    return this.next.connection === connection;
  }

  /** The next draw from the state's generator (the draft moves on to the generator's next state). */
  private fraction(): number {
    const { fraction, state } = drawFraction(this.next.random);
    this.next.random = state;
    return fraction;
  }

  /** `bytes` random bytes as lowercase hex (trace IDs, never key material). */
  private hex(bytes: number): string {
    let out = '';
    for (let i = 0; i < bytes; i++)
      out += Math.floor(this.fraction() * 256)
        .toString(16)
        .padStart(2, '0');
    return out;
  }

  private count(counter: DeviceCounter): void {
    this.emit({ type: 'count', counter });
  }

  private emit(effect: DeviceEffect): void {
    this.effects.push(effect);
  }
}
