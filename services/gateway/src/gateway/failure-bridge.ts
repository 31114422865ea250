import type { Tracer } from '@opentelemetry/api';
import {
  DenialReason,
  DeviceFailureReportSchema,
  DeviceHeartbeatSchema,
  MAX_FAILURE_REPORT_BYTES,
  MAX_FAILURE_REPORTS_PER_BATCH,
  MAX_HEARTBEAT_BYTES,
  MAX_HEARTBEATS_PER_BATCH,
  Stream,
  Subject,
  type DenialReasonValue,
  type ReceivedFailureReport,
  type ReceivedHeartbeat,
} from '@rampart/contracts';
import { openStream, type Clock, type MessageBus } from '@rampart/service-kit';
import type { ZodType } from 'zod';
import { StreamBatcher, type BatchSettings } from './stream-batcher.js';

export type FailureOutcome =
  { readonly kind: 'stored' } | { readonly kind: 'rejected'; readonly reason: DenialReasonValue; readonly detail: string };

/** What a device sends for the failures service: failure reports and uptime heartbeats. */
export type FailureStreamKind = 'failures' | 'heartbeat';

/** One kind's payload rules and how it travels. */
class Route<Parsed, Item> {
  constructor(
    readonly maxBytes: number,
    readonly schema: ZodType<Parsed>,
    readonly batcher: StreamBatcher<Item>,
    readonly wrap: (deviceId: string, tenantId: string | null, receivedAt: number, parsed: Parsed) => Item,
  ) {}
}

/**
 * A device's failure reports and uptime heartbeats → the FAILURES stream,
 * packed with other devices' like readings are (one stream round trip for
 * many). Hostile until it parses; the device id and tenant are the ones the
 * connection proved, never ones in the payload; the failures service stores
 * each once per device id and sequence number, so a resend after a lost
 * PUBACK is a no-op.
 */
export class FailureBridge {
  private readonly routes: Record<FailureStreamKind, Route<unknown, unknown>>;

  constructor(
    private readonly bus: MessageBus,
    private readonly clock: Clock,
    batch: BatchSettings,
    tracer: Tracer,
  ) {
    const reports = new Route(
      MAX_FAILURE_REPORT_BYTES,
      DeviceFailureReportSchema,
      new StreamBatcher<ReceivedFailureReport>(
        bus,
        {
          subject: Subject.failuresReportReceived,
          field: 'reports',
          maxItems: MAX_FAILURE_REPORTS_PER_BATCH,
          spanName: 'failures.batch publish',
        },
        { maxReadings: Math.min(batch.maxReadings, MAX_FAILURE_REPORTS_PER_BATCH), maxDelayMs: batch.maxDelayMs },
        tracer,
      ),
      (deviceId, tenantId, receivedAt, report) => ({ deviceId, tenantId, receivedAt, report }),
    );
    const heartbeats = new Route(
      MAX_HEARTBEAT_BYTES,
      DeviceHeartbeatSchema,
      new StreamBatcher<ReceivedHeartbeat>(
        bus,
        {
          subject: Subject.failuresHeartbeatReceived,
          field: 'heartbeats',
          maxItems: MAX_HEARTBEATS_PER_BATCH,
          spanName: 'heartbeats.batch publish',
        },
        { maxReadings: Math.min(batch.maxReadings, MAX_HEARTBEATS_PER_BATCH), maxDelayMs: batch.maxDelayMs },
        tracer,
      ),
      (deviceId, tenantId, receivedAt, heartbeat) => ({ deviceId, tenantId, receivedAt, heartbeat }),
    );
    this.routes = { failures: reports as Route<unknown, unknown>, heartbeat: heartbeats as Route<unknown, unknown> };
  }

  async start(): Promise<void> {
    await openStream(this.bus, Stream.failures, 'gateway');
  }

  async forward(kind: FailureStreamKind, deviceId: string, tenantId: string | null, payload: Buffer): Promise<FailureOutcome> {
    const route = this.routes[kind];
    if (payload.length > route.maxBytes) {
      return { kind: 'rejected', reason: DenialReason.malformedPayload, detail: `${kind} over ${route.maxBytes} bytes` };
    }
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      return { kind: 'rejected', reason: DenialReason.malformedPayload, detail: 'payload is not JSON' };
    }
    const parsed = route.schema.safeParse(json);
    if (!parsed.success) {
      return { kind: 'rejected', reason: DenialReason.malformedPayload, detail: parsed.error.issues[0]?.message ?? 'invalid' };
    }
    await route.batcher.add(route.wrap(deviceId, tenantId, this.clock.now(), parsed.data));
    return { kind: 'stored' };
  }

  /** Sends what is waiting (at shutdown). */
  async drain(): Promise<void> {
    await Promise.all(Object.values(this.routes).map((r) => r.batcher.drain()));
  }
}
