import { z } from 'zod';
import { DEVICE_ID_PATTERN } from './identity.js';
import { TRACEPARENT_PATTERN } from './trace-context.js';

export const MAX_METRICS_PER_READING = 64;
export const METRIC_NAME_PATTERN = /^[a-z][a-z0-9_.]{0,62}$/;
/** A device clock may run this far ahead of the gateway's before a reading is refused. */
export const MAX_CLOCK_AHEAD_MS = 5 * 60 * 1000;
/** Readings older than this are refused: they would land in dropped partitions. */
export const MAX_READING_AGE_MS = 24 * 60 * 60 * 1000;

/** What a device publishes on `devices/<id>/telemetry`. */
export const DeviceTelemetrySchema = z
  .object({
    /** Per-device sequence number; with the device id it names the message. */
    seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    /** Device clock, milliseconds since the epoch. */
    ts: z.number().int().positive(),
    metrics: z
      .record(z.string().regex(METRIC_NAME_PATTERN, 'metric names are lowercase [a-z0-9_.]'), z.number().finite())
      .refine((m) => Object.keys(m).length > 0, 'at least one metric')
      .refine((m) => Object.keys(m).length <= MAX_METRICS_PER_READING, `at most ${MAX_METRICS_PER_READING} metrics`),
    /** Present when the device traces this reading. */
    traceparent: z.string().regex(TRACEPARENT_PATTERN, 'a W3C traceparent').optional(),
  })
  .strict();
export type DeviceTelemetry = z.infer<typeof DeviceTelemetrySchema>;

/** What the gateway puts on the telemetry stream for each accepted reading. */
export const TelemetryReadingSchema = z
  .object({
    deviceId: z.string().regex(DEVICE_ID_PATTERN),
    /**
     * The tenant the device's operational certificate names (telemetry is only
     * accepted on one): the telemetry API shows the reading to that tenant only.
     * Absent in batches from gateways older than this field.
     */
    tenantId: z.string().min(1).max(64).optional(),
    seq: z.number().int().nonnegative(),
    ts: z.number().int().positive(),
    receivedAt: z.number().int().positive(),
    metrics: z.record(z.string().regex(METRIC_NAME_PATTERN), z.number().finite()),
    /** The gateway's span for a traced reading: the telemetry service continues the trace from it. */
    traceparent: z.string().regex(TRACEPARENT_PATTERN).optional(),
  })
  .strict();
export type TelemetryReading = z.infer<typeof TelemetryReadingSchema>;

/** Readings the gateway packs into one stream message at most. */
export const MAX_READINGS_PER_BATCH = 1_000;

/**
 * One stream message: readings the gateway accepted within a few
 * milliseconds, from any devices. Batching amortises the stream's per-message
 * cost; exactly-once storage rests on the reading's identity (device id +
 * sequence), which the database enforces, not on the stream message.
 */
export const TelemetryBatchSchema = z
  .object({
    readings: z.array(TelemetryReadingSchema).min(1).max(MAX_READINGS_PER_BATCH),
  })
  .strict();
export type TelemetryBatch = z.infer<typeof TelemetryBatchSchema>;

/** The stream message id of a batch: unique per gateway process, reused only when that batch is retried. */
export function batchMessageId(origin: string, batchSeq: number): string {
  return `${origin}:${batchSeq}`;
}

export const DeviceLatestRequestSchema = z.object({ deviceId: z.string().regex(DEVICE_ID_PATTERN) }).strict();
export type DeviceLatestRequest = z.infer<typeof DeviceLatestRequestSchema>;

export const MetricValueSchema = z.object({ metric: z.string(), value: z.number(), ts: z.number() });
export const DeviceLatestReplySchema = z.object({
  deviceId: z.string(),
  lastSeen: z.number().nullable(),
  metrics: z.array(MetricValueSchema),
});
export type DeviceLatestReply = z.infer<typeof DeviceLatestReplySchema>;

export const IngestStatsRequestSchema = z.object({}).strict();
export const IngestStatsReplySchema = z.object({
  readingsStored: z.number().int().nonnegative(),
  rowsStored: z.number().int().nonnegative(),
  devices: z.number().int().nonnegative(),
});
export type IngestStatsReply = z.infer<typeof IngestStatsReplySchema>;
