import { SpanKind, SpanStatusCode, context, trace, type Tracer } from '@opentelemetry/api';
import {
  DenialReason,
  DeviceTelemetrySchema,
  MAX_CLOCK_AHEAD_MS,
  MAX_READING_AGE_MS,
  MAX_READINGS_PER_BATCH,
  Stream,
  Subject,
  type DeviceTelemetry,
  type TelemetryReading,
} from '@rampart/contracts';
import { traceContextFrom, traceHeaders, type Clock, type MessageBus } from '@rampart/service-kit';
import { StreamBatcher, type BatchSettings } from './stream-batcher.js';
import { PayloadRefusal, StreamBridge, payloadRule } from './stream-bridge.js';

export interface TelemetryStreamSettings {
  readonly maxAgeMs: number;
  readonly duplicateWindowMs: number;
  readonly batch: BatchSettings;
}

/** Device kinds the telemetry bridge carries. */
export type TelemetryKind = 'telemetry';

/**
 * A device's telemetry PUBLISH → a reading on the TELEMETRY stream. The
 * reading's tenant is the one the device's operational certificate names:
 * the telemetry API shows the reading to that tenant only.
 */
export function telemetryBridge(
  bus: MessageBus,
  clock: Clock,
  settings: TelemetryStreamSettings,
  tracer: Tracer,
): StreamBridge<TelemetryKind> {
  const batcher = new StreamBatcher<TelemetryReading>(
    bus,
    { subject: Subject.telemetryBatchReceived, field: 'readings', maxItems: MAX_READINGS_PER_BATCH, spanName: 'telemetry.batch publish' },
    settings.batch,
    tracer,
  );
  const readings = payloadRule<DeviceTelemetry, TelemetryReading>({
    maxBytes: undefined,
    schema: DeviceTelemetrySchema,
    batcher,
    toItem: (deviceId, tenantId, now, { seq, ts, metrics, traceparent }) => {
      if (ts > now + MAX_CLOCK_AHEAD_MS || ts < now - MAX_READING_AGE_MS) {
        return new PayloadRefusal(DenialReason.clockSkew, `timestamp ${ts} is outside the accepted window`);
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
    },
    store: (deviceId, reading) =>
      reading.traceparent === undefined ? batcher.add(reading) : storeTraced(batcher, tracer, deviceId, reading, reading.traceparent),
  });
  return new StreamBridge(
    bus,
    clock,
    { definition: Stream.telemetry, ownerLimits: { maxAgeMs: settings.maxAgeMs, duplicateWindowMs: settings.duplicateWindowMs } },
    { telemetry: readings },
  );
}

/**
 * A traced reading: this span (the device's child) lasts until the stream has it, and the reading carries
 * this span's context on, for the telemetry service's store span.
 */
async function storeTraced(
  batcher: StreamBatcher<TelemetryReading>,
  tracer: Tracer,
  deviceId: string,
  reading: TelemetryReading,
  traceparent: string,
): Promise<void> {
  const parent = traceContextFrom({ traceparent });
  const span = tracer.startSpan(
    'telemetry receive',
    { kind: SpanKind.SERVER, attributes: { 'messaging.system': 'mqtt', 'rampart.device_id': deviceId, 'rampart.seq': reading.seq } },
    parent,
  );
  const carried = traceHeaders(trace.setSpan(context.active(), span))['traceparent'];
  try {
    await batcher.add({ ...reading, ...(carried === undefined ? {} : { traceparent: carried }) });
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}
