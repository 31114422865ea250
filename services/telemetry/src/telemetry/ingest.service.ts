import {
  SpanKind,
  SpanStatusCode,
  trace,
  type Counter,
  type Histogram,
  type Link,
  type Meter,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { Durable, Stream, Subject, TelemetryBatchSchema, type TelemetryReading } from '@rampart/contracts';
import {
  decodeJson,
  linkFromHeaders,
  openStream,
  traceContextFrom,
  type Closable,
  type DurableMessage,
  type Logger,
  type MessageBus,
} from '@rampart/service-kit';
import type { ReadingsRepository } from './readings.repository.js';

export interface IngestSettings {
  readonly batchSize: number;
  readonly flushMs: number;
  readonly maxAckPending: number;
  readonly ackWaitMs: number;
  readonly retryDelayMs: number;
  /** Batches written at once, each on its own connection. */
  readonly concurrency: number;
}

/** A write span links to at most this many producer spans. */
const MAX_SPAN_LINKS = 32;

export interface IngestCounters {
  readingsStored: number;
  rowsStored: number;
  duplicates: number;
  poison: number;
  failedBatches: number;
}

/**
 * The telemetry stream's durable consumer, shared by every replica. Stream
 * messages (each a batch of readings from the gateway) are gathered until
 * `batchSize` readings or `flushMs`, written in one statement, and
 * acknowledged only after that statement commits, so a crash at any point means redelivery, and
 * redelivery is harmless because the insert is idempotent. A message that
 * can never be valid is terminated (not retried forever) and counted.
 */
export class IngestService {
  private batch: Array<{ message: DurableMessage; readings: TelemetryReading[] }> = [];
  private batchReadings = 0;
  private timer: NodeJS.Timeout | undefined;
  /** One chain per concurrent writer; a batch goes to the chain that frees up first. */
  private readonly writers: Array<Promise<void>>;
  private subscription: Closable | undefined;
  private stopped = false;
  readonly counters: IngestCounters = { readingsStored: 0, rowsStored: 0, duplicates: 0, poison: 0, failedBatches: 0 };
  private readonly rowsCounter: Counter;
  private readonly readingsCounter: Counter;
  private readonly poisonCounter: Counter;
  private readonly failedCounter: Counter;
  private readonly batchSeconds: Histogram;
  private readonly lagSeconds: Histogram;

  constructor(
    private readonly bus: MessageBus,
    private readonly repository: ReadingsRepository,
    private readonly settings: IngestSettings,
    private readonly logger: Logger,
    meter: Meter,
    private readonly tracer: Tracer,
  ) {
    this.rowsCounter = meter.createCounter('rampart_telemetry_rows_stored_total', { description: 'Rows committed' });
    this.readingsCounter = meter.createCounter('rampart_telemetry_readings_stored_total', { description: 'Readings committed' });
    this.poisonCounter = meter.createCounter('rampart_telemetry_poison_total', { description: 'Stream messages that can never be stored' });
    this.failedCounter = meter.createCounter('rampart_telemetry_batch_failures_total', {
      description: 'Batches that failed and were redelivered',
    });
    this.batchSeconds = meter.createHistogram('rampart_telemetry_batch_seconds', { description: 'Time to commit one batch', unit: 's' });
    this.lagSeconds = meter.createHistogram('rampart_telemetry_ingest_lag_seconds', {
      description: "From a reading's timestamp (the device's publish) to its commit: the pipeline's lag",
      unit: 's',
      advice: { explicitBucketBoundaries: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] },
    });
    this.writers = Array.from({ length: settings.concurrency }, () => Promise.resolve());
  }

  private turn = 0;

  /** Queues a batch behind one writer (round robin), so at most `concurrency` statements run at once. */
  private write(taken: Array<{ message: DurableMessage; readings: TelemetryReading[] }>): Promise<void> {
    const index = this.turn++ % this.writers.length;
    const next = (this.writers[index] ?? Promise.resolve()).then(() => this.flush(taken));
    this.writers[index] = next;
    return next;
  }

  async start(): Promise<void> {
    await openStream(this.bus, Stream.telemetry, 'telemetry');
    this.subscription = await this.bus.consumeDurable(
      {
        stream: Stream.telemetry.name,
        durable: Durable.telemetryIngest,
        filterSubject: Subject.telemetryBatchReceived,
        maxAckPending: this.settings.maxAckPending,
        ackWaitMs: this.settings.ackWaitMs,
      },
      (message) => this.receive(message),
    );
  }

  private receive(message: DurableMessage): void {
    if (this.stopped) {
      message.nak();
      return;
    }
    const readings = this.decode(message);
    if (readings === undefined) return;
    this.batch.push({ message, readings });
    this.batchReadings += readings.length;
    if (this.batchReadings >= this.settings.batchSize) {
      this.scheduleFlush(0);
    } else if (this.timer === undefined) {
      this.scheduleFlush(this.settings.flushMs);
    }
  }

  private takeBatch(): Array<{ message: DurableMessage; readings: TelemetryReading[] }> {
    let count = 0;
    let take = 0;
    while (take < this.batch.length && (take === 0 || count + (this.batch[take]?.readings.length ?? 0) <= this.settings.batchSize)) {
      count += this.batch[take]?.readings.length ?? 0;
      take++;
    }
    this.batchReadings -= count;
    return this.batch.splice(0, take);
  }

  private scheduleFlush(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const taken = this.takeBatch();
      if (this.batch.length > 0) this.scheduleFlush(this.batchReadings >= this.settings.batchSize ? 0 : this.settings.flushMs);
      // Each message is acknowledged after its own batch commits; order between batches does not matter.
      void this.write(taken);
    }, delayMs);
  }

  private async flush(taken: Array<{ message: DurableMessage; readings: TelemetryReading[] }>): Promise<void> {
    if (taken.length === 0) return;
    const readings = taken.flatMap((t) => t.readings);
    const accepted = taken.map((t) => t.message);
    const links = accepted
      .slice(0, MAX_SPAN_LINKS)
      .map((m) => linkFromHeaders(m.headers))
      .filter((l): l is Link => l !== undefined);
    const attributes = { 'messaging.batch.message_count': accepted.length, 'rampart.readings': readings.length };
    await this.tracer.startActiveSpan('telemetry.batch write', { kind: SpanKind.CONSUMER, links, attributes }, async (span) => {
      // A traced reading's trace goes on through this write: its own store span (child of the gateway's) and
      // the PostgreSQL insert under it, linked to the batch.
      const traced = this.tracedStores(readings, span);
      try {
        await this.store(readings, accepted);
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
        for (const t of traced) t.failed(error);
      } finally {
        for (const t of traced) t.end();
        span.end();
      }
    });
  }

  private tracedStores(readings: readonly TelemetryReading[], batch: Span): Array<{ end(): void; failed(error: unknown): void }> {
    const traced = [];
    for (const reading of readings) {
      if (reading.traceparent === undefined) continue;
      if (traced.length >= MAX_SPAN_LINKS) break;
      const parent = traceContextFrom({ traceparent: reading.traceparent });
      const store = this.tracer.startSpan(
        'telemetry store',
        {
          kind: SpanKind.CONSUMER,
          links: [{ context: batch.spanContext() }],
          attributes: { 'messaging.system': 'nats', 'rampart.device_id': reading.deviceId, 'rampart.seq': reading.seq },
        },
        parent,
      );
      const insert = this.tracer.startSpan(
        'INSERT telemetry.readings',
        {
          kind: SpanKind.CLIENT,
          attributes: { 'db.system': 'postgresql', 'db.operation.name': 'INSERT', 'db.collection.name': 'telemetry.readings' },
        },
        trace.setSpan(parent, store),
      );
      traced.push({
        end: () => {
          insert.end();
          store.end();
        },
        failed: (error: unknown) => {
          for (const s of [insert, store]) {
            s.recordException(error as Error);
            s.setStatus({ code: SpanStatusCode.ERROR });
          }
        },
      });
    }
    return traced;
  }

  /** Writes one batch and settles its messages: ack after commit, nak (redeliver later) on failure. */
  private async store(readings: TelemetryReading[], accepted: DurableMessage[]): Promise<void> {
    const started = performance.now();
    try {
      const result = await this.repository.insertBatch(readings);
      for (const message of accepted) message.ack();
      this.counters.readingsStored += result.readings;
      this.counters.rowsStored += result.rows;
      this.counters.duplicates += readings.length - result.readings;
      this.readingsCounter.add(result.readings);
      this.rowsCounter.add(result.rows);
      this.batchSeconds.record((performance.now() - started) / 1000);
      const committedAt = Date.now();
      for (const reading of readings) this.lagSeconds.record(Math.max(0, committedAt - reading.ts) / 1000);
    } catch (error) {
      this.counters.failedBatches++;
      this.failedCounter.add(1);
      this.logger.error({ err: error, messages: accepted.length }, 'batch not stored; it will be redelivered');
      for (const message of accepted) message.nak(this.settings.retryDelayMs);
      throw error;
    }
  }

  private decode(message: DurableMessage): TelemetryReading[] | undefined {
    try {
      const parsed = TelemetryBatchSchema.safeParse(decodeJson(message.data));
      if (parsed.success) return parsed.data.readings;
      this.poison(message, parsed.error.issues[0]?.message ?? 'invalid');
    } catch {
      this.poison(message, 'not JSON');
    }
    return undefined;
  }

  private poison(message: DurableMessage, detail: string): void {
    this.counters.poison++;
    this.poisonCounter.add(1);
    this.logger.warn({ streamSequence: message.streamSequence, detail }, 'stream message can never be stored; terminated');
    message.term();
  }

  /** Stops consuming, commits what is buffered, and leaves the rest for redelivery. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.subscription?.close();
    clearTimeout(this.timer);
    this.timer = undefined;
    const remaining = this.batch.splice(0);
    this.batchReadings = 0;
    void this.write(remaining);
    await Promise.all(this.writers);
  }
}
