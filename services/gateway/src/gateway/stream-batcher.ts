import { randomBytes } from 'node:crypto';
import { batchMessageId } from '@rampart/contracts';
import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { encodeJson, traceHeaders, type MessageBus } from '@rampart/service-kit';

export const DEFAULT_BATCH_MAX_READINGS = 256;
export const DEFAULT_BATCH_MAX_DELAY_MS = 2;

export interface BatchSettings {
  /** A batch is sent once it holds this many items … */
  readonly maxReadings: number;
  /** … or this long after its first item arrived, whichever is first. */
  readonly maxDelayMs: number;
}

/** Which stream subject a batcher feeds, the field its items go in, and the most one message may hold. */
export interface StreamTarget {
  readonly subject: string;
  readonly field: string;
  readonly maxItems: number;
  /** Producer span name, e.g. `telemetry.batch publish`. */
  readonly spanName: string;
}

interface Waiting<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Packs items from all devices (readings, failure reports) into stream
 * messages. Each item's promise settles when the stream has stored its
 * batch, so the gateway still sends PUBACK only for stored items; one
 * stream round trip now covers up to `maxReadings` of them. Batches are
 * published concurrently.
 */
export class StreamBatcher<T> {
  private readonly origin = randomBytes(8).toString('hex');
  private batchSeq = 0;
  private pending: Array<Waiting<T>> = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly bus: MessageBus,
    private readonly target: StreamTarget,
    private readonly settings: BatchSettings,
    private readonly tracer: Tracer,
  ) {
    if (settings.maxReadings > target.maxItems) throw new RangeError(`a batch holds at most ${target.maxItems} items`);
  }

  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
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
    const payload = encodeJson({ [this.target.field]: batch.map((w) => w.item) });
    const msgId = batchMessageId(this.origin, this.batchSeq++);
    // The producer span's context travels in the message headers, so the
    // consuming service's write links back to it.
    const attributes = {
      'messaging.system': 'nats',
      'messaging.destination.name': this.target.subject,
      'messaging.batch.message_count': batch.length,
    };
    const sending = this.tracer.startActiveSpan(this.target.spanName, { kind: SpanKind.PRODUCER, attributes }, (span) =>
      this.bus.publishDurable(this.target.subject, payload, { msgId, headers: traceHeaders() }).then(
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
