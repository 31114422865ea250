import { z } from 'zod';
import { storableText, text } from './edge-input.js';

/** What went wrong on a device. */
export const FAILURE_KINDS = ['app-crash', 'watchdog-reset', 'permission-denied', 'os-fault', 'boot-failure', 'update-failure'] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

/** Largest failure report a device may send (the gateway refuses bigger before parsing). */
export const MAX_FAILURE_REPORT_BYTES = 8 * 1024;

export const StackFrameSchema = z
  .object({
    function: storableText({ max: 200 }),
    file: storableText({ max: 200 }),
    line: z.number().int().nonnegative(),
    column: z.number().int().nonnegative(),
  })
  .strict();

/**
 * A failure report as a device sends it on `devices/<id>/failures`. It names
 * no device: the gateway adds the id its certificate proves. `seq` counts
 * the device's reports, so a resend is recognised and never counted twice.
 */
export const DeviceFailureReportSchema = z
  .object({
    seq: z.number().int().nonnegative(),
    at: z.number().int().nonnegative(),
    kind: z.enum(FAILURE_KINDS),
    /** `bootloader`, `security-monitor`, `os`, or `app:<name>`. */
    component: text({ min: 1, max: 80 }),
    version: text({ max: 64 }),
    exitCode: z.number().int().nullable(),
    signal: text({ max: 16 }).nullable(),
    /** Stored as it came (line breaks and all), but never a NUL or a lone surrogate: one would fail its whole batch's write. */
    message: storableText({ max: 1024 }),
    frames: z.array(StackFrameSchema).max(32),
    /** How long the component had been running. */
    uptimeMs: z.number().int().nonnegative().optional(),
    detail: z.record(text({ max: 64 }), z.union([storableText({ max: 256 }), z.number(), z.boolean()])).optional(),
  })
  .strict();
export type DeviceFailureReport = z.infer<typeof DeviceFailureReportSchema>;

/** A failure report as the gateway puts it on the FAILURES stream. */
export const ReceivedFailureReportSchema = z
  .object({
    deviceId: z.string(),
    /** The tenant named by the device's operational certificate; null for a device on its manufacturer identity. */
    tenantId: z.string().nullable(),
    receivedAt: z.number().int(),
    report: DeviceFailureReportSchema,
  })
  .strict();
export type ReceivedFailureReport = z.infer<typeof ReceivedFailureReportSchema>;

/** Failure reports the gateway packs into one FAILURES stream message. */
export const MAX_FAILURE_REPORTS_PER_BATCH = 500;
export const ReceivedFailureBatchSchema = z
  .object({ reports: z.array(ReceivedFailureReportSchema).min(1).max(MAX_FAILURE_REPORTS_PER_BATCH) })
  .strict();
export type ReceivedFailureBatch = z.infer<typeof ReceivedFailureBatchSchema>;

const CohortSchema = z
  .object({
    version: z.string().min(1).max(64),
    /**
     * Exposure: device-hours this version ran in the window. Omitted, the
     * failures service measures it from the devices' uptime heartbeats.
     */
    deviceHours: z.number().nonnegative().finite().optional(),
    /** Only crashes of these devices count (a wave's devices); all of the tenant's if omitted. */
    deviceIds: z.array(z.string()).max(100_000).optional(),
  })
  .strict();

/** Request/reply `failures.health.compare`: is the candidate version's crash rate worse than the baseline's? */
export const HealthCompareRequestSchema = z
  .object({
    tenantId: z.string().min(1).max(64),
    component: z.string().min(1).max(80),
    candidate: CohortSchema,
    baseline: CohortSchema,
    /** Window start, ms since the epoch. */
    since: z.number().int().nonnegative(),
    /** Optional overrides of the test's defaults. */
    alpha: z.number().gt(0).lt(0.5).optional(),
    toleratedRatio: z.number().min(1).max(100).optional(),
  })
  .strict();
export type HealthCompareRequest = z.infer<typeof HealthCompareRequestSchema>;

export const HealthCompareReplySchema = z.object({
  verdict: z.enum(['worse', 'healthy', 'insufficient-data']),
  candidateCrashes: z.number().int(),
  baselineCrashes: z.number().int(),
  pValue: z.number().nullable(),
  rateCandidate: z.number().nullable(),
  rateBaseline: z.number().nullable(),
  reason: z.string(),
  test: z.string(),
});
export type HealthCompareReply = z.infer<typeof HealthCompareReplySchema>;

/** Largest uptime heartbeat a device may send. */
export const MAX_HEARTBEAT_BYTES = 4 * 1024;
/** A heartbeat covers at most this much running time (devices send one per interval, at most hourly). */
export const MAX_HEARTBEAT_INTERVAL_MS = 3_600_000;

export const RunningComponentSchema = z
  .object({
    /** `os` or `app:<name>`. */
    component: text({ min: 1, max: 80 }),
    version: text({ min: 1, max: 64 }),
  })
  .strict();

/**
 * An uptime heartbeat as a device sends it on `devices/<id>/heartbeat`: the
 * time it ran, and what ran, since the previous one. The exposure behind
 * crash-free hours and crash rates per version. `seq` makes a resend a no-op.
 */
export const DeviceHeartbeatSchema = z
  .object({
    seq: z.number().int().nonnegative(),
    /** Interval start and end, ms since the epoch (device clock). */
    from: z.number().int().nonnegative(),
    to: z.number().int().nonnegative(),
    running: z.array(RunningComponentSchema).min(1).max(33),
  })
  .strict()
  .refine((h) => h.to >= h.from && h.to - h.from <= MAX_HEARTBEAT_INTERVAL_MS, {
    message: `a heartbeat covers 0 to ${MAX_HEARTBEAT_INTERVAL_MS} ms`,
  });
export type DeviceHeartbeat = z.infer<typeof DeviceHeartbeatSchema>;

export const ReceivedHeartbeatSchema = z
  .object({
    deviceId: z.string(),
    tenantId: z.string().nullable(),
    receivedAt: z.number().int(),
    heartbeat: DeviceHeartbeatSchema,
  })
  .strict();
export type ReceivedHeartbeat = z.infer<typeof ReceivedHeartbeatSchema>;

export const MAX_HEARTBEATS_PER_BATCH = 500;
export const ReceivedHeartbeatBatchSchema = z
  .object({ heartbeats: z.array(ReceivedHeartbeatSchema).min(1).max(MAX_HEARTBEATS_PER_BATCH) })
  .strict();
export type ReceivedHeartbeatBatch = z.infer<typeof ReceivedHeartbeatBatchSchema>;

/** Request/reply `failures.stability.query`: crash-free devices and hours per version of a component. */
export const StabilityQueryRequestSchema = z
  .object({
    tenantId: z.string().min(1).max(64),
    component: z.string().min(1).max(80),
    /** Window, ms since the epoch; `until` defaults to now. */
    since: z.number().int().nonnegative(),
    until: z.number().int().nonnegative().optional(),
    /** Only these versions (all seen in the window if omitted). */
    versions: z.array(z.string().min(1).max(64)).max(100).optional(),
    /** Only these devices: a device group, a deployment or one of its waves. */
    deviceIds: z.array(z.string()).max(100_000).optional(),
  })
  .strict();
export type StabilityQueryRequest = z.infer<typeof StabilityQueryRequestSchema>;

export const StabilityCohortSchema = z.object({
  version: z.string(),
  /** Devices that ran this version (or crashed on it) in the window. */
  devices: z.number().int(),
  crashFreeDevices: z.number().int(),
  /** crashFreeDevices / devices; null without devices. */
  crashFreeDevicesRatio: z.number().nullable(),
  operatingHours: z.number(),
  /** Share of operating time in device-hours without a crash; null without operating time. */
  crashFreeHoursRatio: z.number().nullable(),
  crashes: z.number().int(),
  crashesPer1000Hours: z.number().nullable(),
});
export type StabilityCohort = z.infer<typeof StabilityCohortSchema>;

export const StabilityQueryReplySchema = z.object({
  component: z.string(),
  since: z.number().int(),
  until: z.number().int(),
  cohorts: z.array(StabilityCohortSchema),
});
export type StabilityQueryReply = z.infer<typeof StabilityQueryReplySchema>;

/**
 * Request/reply `failures.buckets.query`: buckets as a set of devices saw
 * them in a window — a device group's, a deployment's, one wave's.
 */
export const BucketsQueryRequestSchema = z
  .object({
    tenantId: z.string().min(1).max(64),
    since: z.number().int().nonnegative(),
    until: z.number().int().nonnegative().optional(),
    deviceIds: z.array(z.string()).max(100_000).optional(),
    version: z.string().min(1).max(64).optional(),
    /** Most buckets answered, most reports first (default 100). */
    limit: z.number().int().min(1).max(1_000).optional(),
  })
  .strict();
export type BucketsQueryRequest = z.infer<typeof BucketsQueryRequestSchema>;

export const BucketCountSchema = z.object({
  signature: z.string(),
  title: z.string(),
  kind: z.string(),
  component: z.string(),
  version: z.string(),
  /** Reports and distinct devices in the window (and set), first and last of them (ms since the epoch). */
  reports: z.number().int(),
  devices: z.number().int(),
  firstSeen: z.number().int(),
  lastSeen: z.number().int(),
});
export type BucketCount = z.infer<typeof BucketCountSchema>;

export const BucketsQueryReplySchema = z.object({
  buckets: z.array(BucketCountSchema),
  /** Distinct devices with any report of each kind, over every bucket (a device in two buckets counts once). */
  devicesByKind: z.record(z.string(), z.number().int().nonnegative()),
});
export type BucketsQueryReply = z.infer<typeof BucketsQueryReplySchema>;
