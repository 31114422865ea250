import {
  DenialReason,
  DeviceFailureReportSchema,
  MAX_FAILURE_REPORT_BYTES,
  Stream,
  Subject,
  type DenialReasonValue,
  type ReceivedFailureReport,
} from '@rampart/contracts';
import { encodeJson, type Clock, type MessageBus } from '@rampart/service-kit';

export type FailureOutcome =
  { readonly kind: 'stored' } | { readonly kind: 'rejected'; readonly reason: DenialReasonValue; readonly detail: string };

/** Failure reports stay in the stream this long for the failures service. */
const FAILURE_STREAM_MAX_AGE_MS = 7 * 86_400_000;
/** A resend of the same report within this window is dropped by the stream. */
const FAILURE_DUPLICATE_WINDOW_MS = 10 * 60_000;

/**
 * A device's failure report → the FAILURES stream. Hostile until it parses;
 * the device id is the one the connection proved, never one in the payload;
 * the stream message id (device id + the report's sequence number) makes a
 * resend after a lost PUBACK a no-op.
 */
export class FailureBridge {
  constructor(
    private readonly bus: MessageBus,
    private readonly clock: Clock,
  ) {}

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
    const message: ReceivedFailureReport = { deviceId, tenantId, receivedAt: this.clock.now(), report: parsed.data };
    await this.bus.publishDurable(Subject.failuresReportReceived, encodeJson(message), { msgId: `${deviceId}:${parsed.data.seq}` });
    return { kind: 'stored' };
  }
}
