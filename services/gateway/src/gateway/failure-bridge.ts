import type { Tracer } from '@opentelemetry/api';
import {
  DeviceFailureReportSchema,
  DeviceHeartbeatSchema,
  MAX_FAILURE_REPORT_BYTES,
  MAX_FAILURE_REPORTS_PER_BATCH,
  MAX_HEARTBEAT_BYTES,
  MAX_HEARTBEATS_PER_BATCH,
  Stream,
  Subject,
  type ReceivedFailureReport,
  type ReceivedHeartbeat,
} from '@rampart/contracts';
import type { Clock, MessageBus } from '@rampart/service-kit';
import { StreamBatcher, type BatchSettings } from './stream-batcher.js';
import { StreamBridge, payloadRule } from './stream-bridge.js';

/** What a device sends for the failures service: failure reports and uptime heartbeats. */
export type FailureStreamKind = 'failures' | 'heartbeat';

/**
 * A device's failure reports and uptime heartbeats → the FAILURES stream.
 * The failures service stores each once per device id and sequence number.
 */
export function failureBridge(bus: MessageBus, clock: Clock, batch: BatchSettings, tracer: Tracer): StreamBridge<FailureStreamKind> {
  const reports = payloadRule({
    maxBytes: MAX_FAILURE_REPORT_BYTES,
    schema: DeviceFailureReportSchema,
    batcher: new StreamBatcher<ReceivedFailureReport>(
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
    toItem: (deviceId, tenantId, receivedAt, report): ReceivedFailureReport => ({ deviceId, tenantId, receivedAt, report }),
  });
  const heartbeats = payloadRule({
    maxBytes: MAX_HEARTBEAT_BYTES,
    schema: DeviceHeartbeatSchema,
    batcher: new StreamBatcher<ReceivedHeartbeat>(
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
    toItem: (deviceId, tenantId, receivedAt, heartbeat): ReceivedHeartbeat => ({ deviceId, tenantId, receivedAt, heartbeat }),
  });
  return new StreamBridge(bus, clock, { definition: Stream.failures }, { failures: reports, heartbeat: heartbeats });
}
