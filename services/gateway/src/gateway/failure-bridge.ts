import type { Tracer } from '@opentelemetry/api';
import {
  DenialReason,
  DeviceFailureReportSchema,
  MAX_FAILURE_REPORT_BYTES,
  MAX_FAILURE_REPORTS_PER_BATCH,
  Stream,
  Subject,
  type DenialReasonValue,
  type ReceivedFailureReport,
} from '@rampart/contracts';
import type { Clock, MessageBus } from '@rampart/service-kit';
import { StreamBatcher, type BatchSettings } from './stream-batcher.js';

export type FailureOutcome =
  { readonly kind: 'stored' } | { readonly kind: 'rejected'; readonly reason: DenialReasonValue; readonly detail: string };

/** Failure reports stay in the stream this long for the failures service. */
const FAILURE_STREAM_MAX_AGE_MS = 7 * 86_400_000;
/** A resend of the same report within this window is dropped by the stream. */
const FAILURE_DUPLICATE_WINDOW_MS = 10 * 60_000;

/**
 * A device's failure report → the FAILURES stream, packed with other
 * devices' reports like readings are (one stream round trip for many).
 * Hostile until it parses; the device id and tenant are the ones the
 * connection proved, never ones in the payload; the failures service
 * stores a report once per device id and sequence number, so a resend
 * after a lost PUBACK is a no-op.
 */
export class FailureBridge {
  private readonly batcher: StreamBatcher<ReceivedFailureReport>;

  constructor(
    private readonly bus: MessageBus,
    private readonly clock: Clock,
    batch: BatchSettings,
    tracer: Tracer,
  ) {
    this.batcher = new StreamBatcher(
      bus,
      {
        subject: Subject.failuresReportReceived,
        field: 'reports',
        maxItems: MAX_FAILURE_REPORTS_PER_BATCH,
        spanName: 'failures.batch publish',
      },
      { maxReadings: Math.min(batch.maxReadings, MAX_FAILURE_REPORTS_PER_BATCH), maxDelayMs: batch.maxDelayMs },
      tracer,
    );
  }

  async start(): Promise<void> {
    await this.bus.ensureStream({
      name: Stream.failures.name,
      subjects: Stream.failures.subjects,
      maxAgeMs: FAILURE_STREAM_MAX_AGE_MS,
      duplicateWindowMs: FAILURE_DUPLICATE_WINDOW_MS,
    });
  }

  async forward(deviceId: string, tenantId: string | null, payload: Buffer): Promise<FailureOutcome> {
    if (payload.length > MAX_FAILURE_REPORT_BYTES) {
      return { kind: 'rejected', reason: DenialReason.malformedPayload, detail: `report over ${MAX_FAILURE_REPORT_BYTES} bytes` };
    }
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      return { kind: 'rejected', reason: DenialReason.malformedPayload, detail: 'payload is not JSON' };
    }
    const parsed = DeviceFailureReportSchema.safeParse(json);
    if (!parsed.success) {
      return { kind: 'rejected', reason: DenialReason.malformedPayload, detail: parsed.error.issues[0]?.message ?? 'invalid' };
    }
    await this.batcher.add({ deviceId, tenantId, receivedAt: this.clock.now(), report: parsed.data });
    return { kind: 'stored' };
  }

  /** Sends what is waiting (at shutdown). */
  drain(): Promise<void> {
    return this.batcher.drain();
  }
}
