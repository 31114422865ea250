import { randomBytes } from 'node:crypto';
import { MAX_READINGS_PER_BATCH, Subject, batchMessageId, type TelemetryReading } from '@rampart/contracts';
import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { encodeJson, traceHeaders, type MessageBus } from '@rampart/service-kit';

export const DEFAULT_BATCH_MAX_READINGS = 256;
export const DEFAULT_BATCH_MAX_DELAY_MS = 2;

export interface BatchSettings {
  /** A batch is sent once it holds this many readings … */
  readonly maxReadings: number;
  /** … or this long after its first reading arrived, whichever is first. */
  readonly maxDelayMs: number;
}

interface Waiting {
  readonly reading: TelemetryReading;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Packs readings from all devices into stream messages. Each reading's
 * promise settles when the stream has stored its batch, so the gateway
 * still sends PUBACK only for stored readings; one stream round trip now
 * covers up to `maxReadings` of them. Batches are published concurrently.
 */
export class ReadingBatcher {
  private readonly origin = randomBytes(8).toString('hex');
  private batchSeq = 0;
  private pending: Waiting[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly bus: MessageBus,
    private readonly settings: BatchSettings,
    private readonly tracer: Tracer,
  ) {
    if (settings.maxReadings > MAX_READINGS_PER_BATCH) throw new RangeError(`a batch holds at most ${MAX_READINGS_PER_BATCH} readings`);
  }

  add(reading: TelemetryReading): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ reading, resolve, reject });
      if (this.pending.length >= this.settings.maxReadings) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.settings.maxDelayMs);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const payload = encodeJson({ readings: batch.map((w) => w.reading) });
    const msgId = batchMessageId(this.origin, this.batchSeq++);
    // The producer span's context travels in the message headers, so the
    // telemetry service's write links back to it.
    const attributes = {
      'messaging.system': 'nats',
      'messaging.destination.name': Subject.telemetryBatchReceived,
      'messaging.batch.message_count': batch.length,
    };
    const sending = this.tracer.startActiveSpan('telemetry.batch publish', { kind: SpanKind.PRODUCER, attributes }, (span) =>
      this.bus.publishDurable(Subject.telemetryBatchReceived, payload, { msgId, headers: traceHeaders() }).then(
        () => {
          span.end();
          for (const w of batch) w.resolve();
        },
        (error: unknown) => {
          span.recordException(error as Error);
          span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
          for (const w of batch) w.reject(error);
        },
      ),
    );
    this.inFlight.add(sending);
    void sending.finally(() => this.inFlight.delete(sending));
  }

  /** Sends what is waiting and resolves once every batch has an answer. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.allSettled([...this.inFlight]);
  }
}
