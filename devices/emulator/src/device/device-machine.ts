import { RECOVERABLE_REASONS, attestResponseTopic, deviceCommandTopic, deviceTopic } from '@rampart/contracts';
import { DEFAULT_RECONNECT_SPREAD_MS, fullJitterBackoff, reconnectBackoff } from './backoff.js';
import type { DeviceCounter, DeviceEffect, DeviceEvent, DeviceTimer, OperationalCertificate, PublishTag } from './device-messages.js';
import { Outbox } from './outbox.js';
import { PendingReadings } from './pending-readings.js';
import type { RandomSource } from './ports.js';

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

export type DevicePhase = 'idle' | 'booting' | 'connecting' | 'online' | 'backoff' | 'stopped';

export interface DeviceMachineConfig {
  readonly deviceId: string;
  /** A TLS endpoint: the device attests on its IDevID, then works on its operational certificate. */
  readonly attests: boolean;
  /** Synthetic readings per second (0: only what apps send). */
  readonly ratePerSecond: number;
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

/** The clock the machine reads (it sets no timers itself: those are effects). */
export interface MachineClock {
  readonly now: () => number;
}

/**
 * One device's connection, attestation and telemetry logic as a state
 * machine: `handle(event)` moves the state and returns the effects to
 * perform (connect, publish, subscribe, timers, update checks). It does no
 * I/O; time and randomness come from the injected clock and random source,
 * so a test drives it event by event.
 *
 * The device connects, publishes readings with QoS 1, keeps each until its
 * PUBACK arrives and resends what is pending after a reconnect; on a TLS
 * endpoint it first attests on its IDevID and reconnects on the operational
 * certificate it is given, renewing it at 80 % of its lifetime. It
 * reconnects with exponential backoff and full jitter.
 */
export class DeviceMachine {
  private state: DevicePhase = 'idle';
  /** The current connection's number; events from any other are stale. */
  private connection: number | undefined;
  private connectionsOpened = 0;
  /** Which certificate the current connection uses. */
  private credential: 'identity' | 'operational' = 'identity';
  private attempt = 0;
  /** Retrying after losing an established connection (wide first window), not after a failed first connect. */
  private spreading = false;
  private publishing = false;
  private operational: OperationalCertificate | undefined;
  private readonly readings: PendingReadings;
  private readonly failures = new Outbox(MAX_PENDING_FAILURES);
  private readonly heartbeats = new Outbox(MAX_PENDING_HEARTBEATS);
  private readonly topics: { readonly telemetry: string; readonly failures: string; readonly heartbeats: string };
  private effects: DeviceEffect[] = [];

  constructor(
    private readonly config: DeviceMachineConfig,
    private readonly clock: MachineClock,
    private readonly random: RandomSource,
  ) {
    this.readings = new PendingReadings(config.maxPending ?? DEFAULT_MAX_PENDING);
    this.operational = config.operational;
    this.topics = {
      telemetry: deviceTopic(config.deviceId, 'telemetry'),
      failures: deviceTopic(config.deviceId, 'failures'),
      heartbeats: deviceTopic(config.deviceId, 'heartbeat'),
    };
  }

  get phase(): DevicePhase {
    return this.state;
  }

  get operationalCertificate(): OperationalCertificate | undefined {
    return this.operational;
  }

  get pendingReadings(): number {
    return this.readings.size;
  }

  get pendingFailureReports(): number {
    return this.failures.size;
  }

  /** Applies `event`; returns what to do, in order. */
  handle(event: DeviceEvent): DeviceEffect[] {
    const outer = this.effects;
    this.effects = [];
    try {
      this.apply(event);
      return this.effects;
    } finally {
      this.effects = outer;
    }
  }

  private apply(event: DeviceEvent): void {
    switch (event.type) {
      case 'start':
        if (this.state !== 'idle') return;
        this.state = 'booting';
        this.emit({ type: 'power-on', after: 'start' });
        return;
      case 'booted':
        if (this.state !== 'booting') return;
        this.connect();
        if (event.after === 'start' && this.config.ratePerSecond > 0) this.schedulePublish(this.random.fraction() * this.intervalMs());
        return;
      case 'boot-failed':
        // A power-on that throws is a device that never comes up; it stays off.
        this.state = 'stopped';
        return;
      case 'reboot':
        // The operational certificate is not trusted across a reboot: the device attests again on its IDevID.
        if (this.state === 'stopped' || this.state === 'idle') return;
        this.dropConnection();
        this.forgetOperational();
        this.count('reboots');
        this.state = 'booting';
        this.emit({ type: 'power-on', after: 'reboot' });
        return;
      case 'os-rebooted':
        // While booting (power-on, reboot) the device connects afresh anyway; otherwise — even mid-connect — it must re-attest.
        if (this.state === 'booting' || this.state === 'idle' || this.state === 'stopped') return;
        this.count('reboots');
        this.dropConnection();
        this.forgetOperational();
        this.connect();
        return;
      case 'lose-connection':
        if (this.state === 'online') this.connectionLost();
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
      case 'nonce':
        if (this.connection !== undefined && this.isCurrent(event.connection))
          this.emit({ type: 'send-evidence', connection: this.connection, nonce: event.nonce });
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
      case 'reading':
        this.count('published');
        if (this.readings.add(event.seq, event.payload)) this.count('dropped');
        this.send(event.seq);
        return;
      case 'published':
        this.onPublished(event.tag, event.ok);
        return;
      case 'failure-report':
        if (this.failures.add(event.payload)) this.count('failureReportsDropped');
        this.flushOutboxes();
        return;
      case 'heartbeat':
        if (this.heartbeats.add(event.payload)) this.count('heartbeatsDropped');
        this.flushOutboxes();
        return;
      case 'publishing-stopped':
        this.publishing = false;
        this.emit({ type: 'clear-timer', timer: 'publish' });
        return;
      case 'publishing-resumed':
        if (this.state === 'stopped' || this.state === 'idle' || this.publishing || this.config.ratePerSecond <= 0) return;
        this.schedulePublish(this.random.fraction() * this.intervalMs());
        return;
      case 'stop':
        this.stop();
        return;
    }
  }

  private onTimer(timer: DeviceTimer): void {
    switch (timer) {
      case 'publish':
        if (this.state === 'stopped') return;
        this.emit({ type: 'produce-reading' });
        this.schedulePublish(this.intervalMs());
        return;
      case 'reconnect':
        if (this.state === 'backoff') this.connect();
        return;
      case 'renew':
        if (this.state === 'online') this.requestAttestation();
        return;
      case 'attest':
        // No verdict in time (a message shed under load, a service restart): reconnect with backoff and try again.
        this.count('attestationTimeouts');
        this.connectionLost();
        return;
      case 'update-check':
        if (this.state !== 'online') return;
        this.checkForUpdates();
        this.scheduleUpdateChecks();
        return;
    }
  }

  private connect(): void {
    this.state = 'connecting';
    if (this.operational !== undefined && this.operational.notAfter <= this.clock.now()) this.operational = undefined;
    const connection = ++this.connectionsOpened;
    this.connection = connection;
    if (!this.config.attests) {
      this.credential = 'operational';
      this.emit({ type: 'open', connection, credential: { kind: 'plain' } });
      return;
    }
    const certificate = this.operational;
    this.credential = certificate === undefined ? 'identity' : 'operational';
    this.emit({
      type: 'open',
      connection,
      credential: certificate === undefined ? { kind: 'identity' } : { kind: 'operational', certificate },
    });
  }

  private onConnected(): void {
    const connection = this.connection;
    if (connection === undefined) return;
    this.state = 'online';
    this.attempt = 0;
    this.spreading = false;
    this.emit({ type: 'went-online' });
    this.flushOutboxes();
    if (!this.config.attests) {
      this.resendPending();
      return;
    }
    // Ask only once the response topic is subscribed: an answer published before the broker has the
    // subscription would be lost.
    const topics = [attestResponseTopic(this.config.deviceId)];
    if (this.credential === 'operational') topics.push(deviceCommandTopic(this.config.deviceId, '#'));
    this.emit({ type: 'subscribe', connection, topics });
  }

  private onSubscribed(): void {
    if (this.credential === 'identity') {
      this.requestAttestation();
      return;
    }
    this.resendPending();
    // Devices learn of updates at attestation: the first thing on a fresh operational connection.
    this.checkForUpdates();
    this.scheduleUpdateChecks();
  }

  /** Asks for a nonce, and gives up on the verdict after `ATTESTATION_TIMEOUT_MS`. */
  private requestAttestation(): void {
    const connection = this.connection;
    if (connection === undefined) return;
    this.emit({ type: 'set-timer', timer: 'attest', ms: ATTESTATION_TIMEOUT_MS });
    this.emit({ type: 'publish', connection, topic: deviceTopic(this.config.deviceId, 'attestRequest'), payload: '{}' });
  }

  private onAttestationPassed(certificate: OperationalCertificate, validFrom: number, validTo: number): void {
    this.emit({ type: 'clear-timer', timer: 'attest' });
    this.count('attestations');
    this.operational = certificate;
    const renewAt = validFrom + (validTo - validFrom) * RENEW_AT_LIFETIME;
    this.emit({ type: 'set-timer', timer: 'renew', ms: Math.max(0, renewAt - this.clock.now()) });
    if (this.credential === 'identity') {
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
    this.dropConnection();
    if (this.state === 'stopped') return;
    if (this.state === 'online') this.spreading = true;
    if (this.state === 'connecting') this.count('connectFailures');
    this.state = 'backoff';
    this.count('reconnects');
    const random = () => this.random.fraction();
    const delay = this.spreading
      ? reconnectBackoff(this.attempt++, random, this.config.reconnectSpreadMs ?? DEFAULT_RECONNECT_SPREAD_MS)
      : fullJitterBackoff(this.attempt++, random);
    this.emit({ type: 'set-timer', timer: 'reconnect', ms: delay });
  }

  /** Closes the current connection; what was in flight waits for the next one. */
  private dropConnection(): void {
    if (this.connection !== undefined) this.emit({ type: 'close', connection: this.connection });
    this.connection = undefined;
    this.emit({ type: 'clear-timer', timer: 'reconnect' });
    this.emit({ type: 'clear-timer', timer: 'update-check' });
    // The verdict it waited for can no longer arrive on this connection.
    this.emit({ type: 'clear-timer', timer: 'attest' });
    this.readings.connectionLost();
    this.failures.connectionLost();
    this.heartbeats.connectionLost();
  }

  private forgetOperational(): void {
    this.operational = undefined;
    this.emit({ type: 'clear-timer', timer: 'renew' });
  }

  private stop(): void {
    for (const timer of ['publish', 'reconnect', 'renew', 'attest', 'update-check'] as const) this.emit({ type: 'clear-timer', timer });
    this.state = 'stopped';
    this.publishing = false;
    if (this.connection !== undefined) this.emit({ type: 'disconnect', connection: this.connection });
    this.connection = undefined;
  }

  private intervalMs(): number {
    return 1000 / this.config.ratePerSecond;
  }

  private schedulePublish(ms: number): void {
    this.publishing = true;
    this.emit({ type: 'set-timer', timer: 'publish', ms });
  }

  private send(seq: number): void {
    const connection = this.connection;
    if (connection === undefined || this.state !== 'online' || this.credential !== 'operational') return;
    const payload = this.readings.take(seq, this.clock.now());
    if (payload === undefined) return;
    this.emit({ type: 'publish', connection, topic: this.topics.telemetry, payload, tag: { store: 'readings', seq } });
  }

  private resendPending(): void {
    for (const seq of this.readings.sequenceNumbers()) this.send(seq);
  }

  private onPublished(tag: PublishTag, ok: boolean): void {
    switch (tag.store) {
      case 'readings': {
        if (!ok) {
          this.readings.failed(tag.seq);
          return;
        }
        const sentAt = this.readings.acknowledged(tag.seq);
        if (sentAt === undefined) return;
        this.emit({ type: 'acknowledged', latencyMs: this.clock.now() - sentAt });
        if (this.readings.size === 0) this.emit({ type: 'drained' });
        return;
      }
      case 'failures':
        if (this.failures.settle(tag.id, ok)) this.count('failureReportsSent');
        return;
      case 'heartbeats':
        if (this.heartbeats.settle(tag.id, ok)) this.count('heartbeatsSent');
        return;
    }
  }

  /**
   * Failure reports go out on either credential (a quarantined device still says why); heartbeats only on the
   * operational one (the tenant's figures count attested devices). Both QoS 1 until acknowledged.
   */
  private flushOutboxes(): void {
    const connection = this.connection;
    if (connection === undefined || this.state !== 'online') return;
    for (const { id, payload } of this.failures.takeUnsent())
      this.emit({ type: 'publish', connection, topic: this.topics.failures, payload, tag: { store: 'failures', id } });
    if (this.credential !== 'operational') return;
    for (const { id, payload } of this.heartbeats.takeUnsent())
      this.emit({ type: 'publish', connection, topic: this.topics.heartbeats, payload, tag: { store: 'heartbeats', id } });
  }

  private checkForUpdates(): void {
    if (this.config.updates && this.operational !== undefined) this.emit({ type: 'check-updates' });
  }

  /** Checks again every `updateCheckIntervalMs` (jittered) for as long as this connection lasts. */
  private scheduleUpdateChecks(): void {
    const interval = this.config.updateCheckIntervalMs;
    if (interval === undefined) return;
    this.emit({ type: 'set-timer', timer: 'update-check', ms: interval * (0.5 + this.random.fraction()) });
  }

  private isCurrent(connection: number): boolean {
    return this.connection === connection;
  }

  private count(counter: DeviceCounter): void {
    this.emit({ type: 'count', counter });
  }

  private emit(effect: DeviceEffect): void {
    this.effects.push(effect);
  }
}
