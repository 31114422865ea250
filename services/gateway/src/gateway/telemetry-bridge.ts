import {
  DenialReason,
  DeviceTelemetrySchema,
  MAX_CLOCK_AHEAD_MS,
  MAX_READING_AGE_MS,
  MAX_READINGS_PER_BATCH,
  Stream,
  Subject,
  type DenialReasonValue,
  type TelemetryReading,
} from '@rampart/contracts';
import { SpanKind, SpanStatusCode, context, trace, type Tracer } from '@opentelemetry/api';
import { openStream, traceContextFrom, traceHeaders, type Clock, type MessageBus } from '@rampart/service-kit';
import { StreamBatcher, type BatchSettings } from './stream-batcher.js';

export type BridgeOutcome =
  { readonly kind: 'stored' } | { readonly kind: 'rejected'; readonly reason: DenialReasonValue; readonly detail: string };

export interface TelemetryStreamSettings {
  readonly maxAgeMs: number;
  readonly duplicateWindowMs: number;
  readonly batch: BatchSettings;
}

/**
 * Turns a device's telemetry PUBLISH into a reading on the telemetry stream.
 * The payload is hostile until it parses against the contract; the device id
 * comes from the authenticated connection, never from the payload. The
 * reading's identity (device id + sequence) makes a retransmission a no-op
 * in the database.
 */
export class TelemetryBridge {
  private readonly batcher: StreamBatcher<TelemetryReading>;

  constructor(
    private readonly bus: MessageBus,
    private readonly clock: Clock,
    private readonly settings: TelemetryStreamSettings,
    private readonly tracer: Tracer,
  ) {
    this.batcher = new StreamBatcher(
      bus,
      { subject: Subject.telemetryBatchReceived, field: 'readings', maxItems: MAX_READINGS_PER_BATCH, spanName: 'telemetry.batch publish' },
      settings.batch,
      tracer,
    );
  }

  async start(): Promise<void> {
    await openStream(this.bus, Stream.telemetry, 'gateway', {
      maxAgeMs: this.settings.maxAgeMs,
      duplicateWindowMs: this.settings.duplicateWindowMs,
    });
  }

  /** `tenantId` is the one the device's operational certificate names: the telemetry API shows the reading to that tenant only. */
  parse(
    deviceId: string,
    payload: Buffer,
    tenantId: string | null = null,
  ): TelemetryReading | { reason: DenialReasonValue; detail: string } {
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      return { reason: DenialReason.malformedPayload, detail: 'payload is not JSON' };
    }
    const parsed = DeviceTelemetrySchema.safeParse(json);
    if (!parsed.success) return { reason: DenialReason.malformedPayload, detail: parsed.error.issues[0]?.message ?? 'invalid' };
    const now = this.clock.now();
    const { seq, ts, metrics, traceparent } = parsed.data;
    if (ts > now + MAX_CLOCK_AHEAD_MS || ts < now - MAX_READING_AGE_MS) {
      return { reason: DenialReason.clockSkew, detail: `timestamp ${ts} is outside the accepted window` };
    }
    return {
      deviceId,
      ...(tenantId === null ? {} : { tenantId }),
      seq,
      ts,
      receivedAt: now,
      metrics,
      ...(traceparent === undefined ? {} : { traceparent }),
    };
  }

  async forward(deviceId: string, payload: Buffer, tenantId: string | null = null): Promise<BridgeOutcome> {
    const reading = this.parse(deviceId, payload, tenantId);
    if ('reason' in reading) return { kind: 'rejected', reason: reading.reason, detail: reading.detail };
    if (reading.traceparent === undefined) {
      await this.batcher.add(reading);
      return { kind: 'stored' };
    }
    // A traced reading: this span (the device's child) lasts until the stream has it, and the reading carries
    // this span's context on, for the telemetry service's store span.
    const parent = traceContextFrom({ traceparent: reading.traceparent });
    const span = this.tracer.startSpan(
      'telemetry receive',
      { kind: SpanKind.SERVER, attributes: { 'messaging.system': 'mqtt', 'rampart.device_id': deviceId, 'rampart.seq': reading.seq } },
      parent,
    );
    const carried = traceHeaders(trace.setSpan(context.active(), span))['traceparent'];
    try {
      await this.batcher.add({ ...reading, ...(carried === undefined ? {} : { traceparent: carried }) });
      return { kind: 'stored' };
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  }

  /** Sends readings still waiting for their batch. */
  drain(): Promise<void> {
    return this.batcher.drain();
  }
}
