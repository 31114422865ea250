import type { SecureContext } from 'node:tls';
import { deviceTopic } from '@rampart/contracts';
import type { IClientOptions, MqttClient } from 'mqtt';
import { fullJitterBackoff } from './backoff.js';
import { LatencyRecorder } from './latency-recorder.js';
import { TelemetrySource } from './telemetry-source.js';

/** Readings a device buffers while offline before it drops the oldest. */
export const DEFAULT_MAX_PENDING = 10_000;
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

export interface DeviceOptions {
  readonly deviceId: string;
  readonly endpoint: GatewayEndpoint;
  /** TLS context with the device's identity; required for the TLS endpoint. */
  readonly tlsContext?: SecureContext;
  readonly ratePerSecond: number;
  readonly metricsPerReading: number;
  readonly maxPending?: number;
}

export interface DeviceStats {
  published: number;
  acknowledged: number;
  dropped: number;
  connects: number;
  reconnects: number;
  connectFailures: number;
  everConnected: boolean;
}

type State = 'idle' | 'connecting' | 'online' | 'backoff' | 'stopped';

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
  };
  readonly latency: LatencyRecorder;

  constructor(
    private readonly options: DeviceOptions,
    private readonly env: DeviceEnvironment,
  ) {
    this.source = new TelemetrySource(options.metricsPerReading, env.random);
    this.topic = deviceTopic(options.deviceId, 'telemetry');
    this.latency = new LatencyRecorder(1_000, env.random);
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

  /** Connects and starts publishing. */
  start(): void {
    if (this.state !== 'idle') return;
    this.connect();
    this.schedulePublish(this.env.random() * this.intervalMs());
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
    const client =
      endpoint.kind === 'tls'
        ? this.env.connect({
            ...common,
            protocol: 'mqtts',
            secureContext: this.options.tlsContext,
            servername: endpoint.servername ?? 'localhost',
            rejectUnauthorized: true,
          } as IClientOptions)
        : this.env.connect({ ...common, protocol: 'mqtt' });
    this.client = client;
    client.on('connect', () => {
      if (this.client !== client) return;
      this.state = 'online';
      this.attempt = 0;
      this.stats.everConnected = true;
      this.resendPending();
    });
    client.on('close', () => this.onConnectionLost(client));
    client.on('error', () => this.onConnectionLost(client));
  }

  private onConnectionLost(client: MqttClient): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners();
    client.on('error', () => undefined);
    client.end(true);
    for (const entry of this.pending.values()) entry.inFlight = false;
    if (this.state === 'stopped') return;
    if (this.state === 'connecting') this.stats.connectFailures++;
    this.state = 'backoff';
    this.stats.reconnects++;
    const delay = fullJitterBackoff(this.attempt++, this.env.random);
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

  private produce(): void {
    const reading = this.source.next(this.env.now());
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
    if (client === undefined || this.state !== 'online' || entry === undefined || entry.inFlight) return;
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
      this.latency.record(this.env.now() - entry.sentAt);
      if (this.pending.size === 0) this.notifyDrained();
    });
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

  /** Disconnects cleanly and stops reconnecting. */
  async stop(): Promise<void> {
    this.env.clearTimer(this.publishTimer);
    this.env.clearTimer(this.reconnectTimer);
    this.state = 'stopped';
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
  }
}
