import { z } from 'zod';
import { DEFAULT_PORTS } from '@rampart/contracts/ports';
import {
  commonConfig,
  commonEnvShape,
  buildConfig,
  env,
  loadConfig,
  withBusChoice,
  type CommonConfig,
  type ConfigInput,
  type Env,
} from '@rampart/service-kit';
import type { SpikeRule } from '../alerts/spike-rule.js';
import type { FailureIngestSettings } from '../ingest/failure-ingest.js';

export const DEFAULT_HTTP_PORT = DEFAULT_PORTS.failures;

const failuresEnvObject = z.object({
  ...commonEnvShape,
  HTTP_PORT: env.port().default(DEFAULT_HTTP_PORT),
  DATABASE_URL: env.url(['postgres', 'postgresql']),
  DB_POOL_SIZE: env.positiveInt().max(200).default(10),
  INGEST_BATCH_SIZE: env.positiveInt().max(10_000).default(500),
  INGEST_FLUSH_MS: env.milliseconds().default(50),
  INGEST_MAX_ACK_PENDING: env.positiveInt().default(2_000),
  INGEST_ACK_WAIT_MS: env.milliseconds().default(30_000),
  INGEST_RETRY_DELAY_MS: env.milliseconds().default(1_000),
  /** Failure reports one device may store per minute, and its burst; the rest are counted as dropped. */
  DEVICE_REPORTS_PER_MINUTE: env.positiveInt().default(6),
  DEVICE_REPORT_BURST: env.positiveInt().default(20),
  /** Reports older than this are deleted (buckets keep their counts). */
  RETENTION_DAYS: env.positiveInt().max(3650).default(90),
  /** New-bucket and spike alerts are also POSTed here (JSON), besides the NATS broadcasts. */
  ALERT_WEBHOOK_URL: env.url(['http', 'https']).optional(),
  /** A spike: at least SPIKE_MIN_REPORTS in SPIKE_WINDOW_MS and SPIKE_FACTOR times the previous hour's rate. */
  SPIKE_WINDOW_MS: env
    .milliseconds()
    .min(10_000)
    .default(5 * 60_000),
  SPIKE_FACTOR: z.coerce.number().min(1).max(1_000).default(5),
  SPIKE_MIN_REPORTS: env.positiveInt().default(10),
});

export const failuresEnvSchema = withBusChoice(failuresEnvObject);

export interface FailuresConfig extends CommonConfig {
  readonly database: { readonly url: string; readonly poolSize: number };
  readonly ingest: FailureIngestSettings;
  readonly rateLimit: { readonly perMinute: number; readonly burst: number };
  readonly retentionDays: number;
  readonly alerts: { readonly webhookUrl: string | undefined; readonly spike: SpikeRule };
}

/** The typed values `failuresConfig` takes: the environment's keys, numbers as numbers. */
export type FailuresConfigInput = ConfigInput<typeof failuresEnvSchema>;

/** Reads the process environment (or an env-shaped record): strings, `<KEY>_FILE` secrets. */
export function loadFailuresConfig(source: Env): FailuresConfig {
  return toFailuresConfig(loadConfig('failures', failuresEnvSchema, source));
}

/** Builds the configuration from typed values (a composition in code); the same schema, defaults and ConfigError as loadFailuresConfig. */
export function failuresConfig(input: FailuresConfigInput): FailuresConfig {
  return toFailuresConfig(buildConfig('failures', failuresEnvSchema, input));
}

function toFailuresConfig(e: z.output<typeof failuresEnvSchema>): FailuresConfig {
  return {
    ...commonConfig(e),
    database: { url: e.DATABASE_URL, poolSize: e.DB_POOL_SIZE },
    ingest: {
      batchSize: e.INGEST_BATCH_SIZE,
      flushMs: e.INGEST_FLUSH_MS,
      maxAckPending: e.INGEST_MAX_ACK_PENDING,
      ackWaitMs: e.INGEST_ACK_WAIT_MS,
      retryDelayMs: e.INGEST_RETRY_DELAY_MS,
    },
    rateLimit: { perMinute: e.DEVICE_REPORTS_PER_MINUTE, burst: e.DEVICE_REPORT_BURST },
    retentionDays: e.RETENTION_DAYS,
    alerts: {
      webhookUrl: e.ALERT_WEBHOOK_URL,
      spike: { windowMs: e.SPIKE_WINDOW_MS, baselineMs: 60 * 60_000, minReports: e.SPIKE_MIN_REPORTS, factor: e.SPIKE_FACTOR },
    },
  };
}
