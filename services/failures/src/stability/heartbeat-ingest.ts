import type { Counter, Meter } from '@opentelemetry/api';
import { Durable, ReceivedHeartbeatBatchSchema, Stream, Subject, type ReceivedHeartbeat } from '@rampart/contracts';
import {
  MicroBatcher,
  TypedBus,
  decodeJson,
  openStream,
  type Closable,
  type DurableMessage,
  type Logger,
  type MessageBus,
} from '@rampart/service-kit';
import { DeviceTenants } from '../ingest/device-tenants.js';
import { heartbeatSlices } from './heartbeat-slices.js';
import type { StabilityRepository } from './stability.repository.js';

export interface HeartbeatIngestSettings {
  readonly maxAckPending: number;
  readonly ackWaitMs: number;
  readonly retryDelayMs: number;
}

/** Stream messages one statement stores at most (each holds up to 500 heartbeats). */
const MESSAGES_PER_WRITE = 20;

/**
 * Uptime heartbeats from the FAILURES stream → operating time per device,
 * hour and component version. Messages that arrive while a write is in
 * flight go together in the next (one writer, so device-hour rows are never
 * locked in two orders at once); each is acknowledged once its write
 * commits, and a malformed one is terminated and counted.
 */
export class HeartbeatIngest {
  private subscription: Closable | undefined;
  private readonly tenants: DeviceTenants;
  private readonly writer: MicroBatcher<readonly ReceivedHeartbeat[], number>;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stored: Counter;
  private readonly refused: Counter;
  readonly counters = { stored: 0, refused: 0, duplicates: 0, failedWrites: 0 };

  constructor(
    private readonly bus: MessageBus,
    private readonly repository: StabilityRepository,
    private readonly settings: HeartbeatIngestSettings,
    private readonly logger: Logger,
    meter: Meter,
  ) {
    this.tenants = new DeviceTenants(new TypedBus(bus), logger);
    this.writer = new MicroBatcher((batches) => this.write(batches), { maxBatch: MESSAGES_PER_WRITE, concurrency: 1 });
    this.stored = meter.createCounter('rampart_failures_heartbeats_stored_total', { description: 'Uptime heartbeats counted' });
    this.refused = meter.createCounter('rampart_failures_heartbeats_refused_total', {
      description: 'Uptime heartbeat messages refused as malformed',
    });
  }

  async start(): Promise<void> {
    await openStream(this.bus, Stream.failures, 'failures');
    this.subscription = await this.bus.consumeDurable(
      {
        stream: Stream.failures.name,
        durable: Durable.failuresStability,
        filterSubject: Subject.failuresHeartbeatReceived,
        maxAckPending: this.settings.maxAckPending,
        ackWaitMs: this.settings.ackWaitMs,
      },
      (message) => this.receive(message),
    );
  }

  private receive(message: DurableMessage): void {
    let heartbeats: ReceivedHeartbeat[];
    try {
      heartbeats = ReceivedHeartbeatBatchSchema.parse(decodeJson(message.data)).heartbeats;
    } catch (error) {
      this.counters.refused++;
      this.refused.add(1);
      this.logger.warn({ streamSequence: message.streamSequence, err: (error as Error).message }, 'heartbeat batch refused: malformed');
      message.term();
      return;
    }
    const done = this.writer.submit(heartbeats).then(
      () => message.ack(),
      (error: unknown) => {
        this.counters.failedWrites++;
        this.logger.error({ err: error }, 'heartbeats not stored; they will be redelivered');
        message.nak(this.settings.retryDelayMs);
      },
    );
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
  }

  private async write(batches: ReadonlyArray<readonly ReceivedHeartbeat[]>): Promise<number[]> {
    // The same heartbeat twice (a device resending after a lost PUBACK) is one heartbeat.
    const unique = new Map<string, ReceivedHeartbeat>();
    for (const h of batches.flat()) unique.set(`${h.deviceId}\u0000${h.heartbeat.seq}`, h);
    const beats = [...unique.values()];
    await this.tenants.learn(beats.filter((h) => h.tenantId === null).map((h) => h.deviceId));
    const withTenants = beats.map((h) => ({ ...h, tenantId: h.tenantId ?? this.tenants.of(h.deviceId) }));
    const fresh = await this.repository.addOperatingTime(
      withTenants.flatMap(heartbeatSlices),
      withTenants.map((h) => ({ deviceId: h.deviceId, seq: h.heartbeat.seq })),
    );
    const total = batches.reduce((n, b) => n + b.length, 0);
    this.counters.stored += fresh;
    this.counters.duplicates += total - fresh;
    this.stored.add(fresh);
    return batches.map(() => fresh);
  }

  /** Stops taking messages and waits for what is being written. */
  async stop(): Promise<void> {
    await this.subscription?.close();
    this.subscription = undefined;
    await Promise.all(this.inFlight);
  }
}
