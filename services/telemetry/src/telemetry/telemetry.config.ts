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
import type { IngestSettings } from './ingest.service.js';

export const DEFAULT_HTTP_PORT = DEFAULT_PORTS.telemetry;
export const DEFAULT_INGEST_BATCH_SIZE = 2_000;
export const DEFAULT_INGEST_FLUSH_MS = 100;
/** Stream messages (each a batch of up to 1,000 readings) handed to one replica and not yet acknowledged. */
export const DEFAULT_INGEST_MAX_ACK_PENDING = 1_000;
export const DEFAULT_INGEST_ACK_WAIT_MS = 30_000;
export const DEFAULT_RETENTION_DAYS = 30;
export const DEFAULT_PARTITION_MAINTENANCE_MS = 60 * 60 * 1000;
export const DEFAULT_RETRY_DELAY_MS = 1_000;
export const DEFAULT_INGEST_CONCURRENCY = 2;

const telemetryEnvObject = z.object({
  ...commonEnvShape,
  HTTP_PORT: env.port().default(DEFAULT_HTTP_PORT),
  DATABASE_URL: env.url(['postgres', 'postgresql']),
  DB_POOL_SIZE: env.positiveInt().max(200).default(10),
  INGEST_BATCH_SIZE: env.positiveInt().max(50_000).default(DEFAULT_INGEST_BATCH_SIZE),
  INGEST_FLUSH_MS: env.milliseconds().default(DEFAULT_INGEST_FLUSH_MS),
  INGEST_MAX_ACK_PENDING: env.positiveInt().default(DEFAULT_INGEST_MAX_ACK_PENDING),
  INGEST_ACK_WAIT_MS: env.milliseconds().default(DEFAULT_INGEST_ACK_WAIT_MS),
  INGEST_RETRY_DELAY_MS: env.milliseconds().default(DEFAULT_RETRY_DELAY_MS),
  INGEST_CONCURRENCY: env.positiveInt().max(16).default(DEFAULT_INGEST_CONCURRENCY),
  RETENTION_DAYS: env.positiveInt().min(2, 'at least 2 days: readings up to 24 h old are accepted').default(DEFAULT_RETENTION_DAYS),
  PARTITION_MAINTENANCE_MS: env.milliseconds().default(DEFAULT_PARTITION_MAINTENANCE_MS),
});

export const telemetryEnvSchema = withBusChoice(telemetryEnvObject);

export interface TelemetryConfig extends CommonConfig {
  readonly database: { readonly url: string; readonly poolSize: number };
  readonly ingest: IngestSettings;
  readonly retention: { readonly days: number; readonly maintenanceMs: number };
}

/** The typed values `telemetryConfig` takes: the environment's keys, numbers as numbers. */
export type TelemetryConfigInput = ConfigInput<typeof telemetryEnvSchema>;

/** Reads the process environment (or an env-shaped record): strings, `<KEY>_FILE` secrets. */
export function loadTelemetryConfig(source: Env): TelemetryConfig {
  return toTelemetryConfig(loadConfig('telemetry', telemetryEnvSchema, source));
}

/** Builds the configuration from typed values (a composition in code); the same schema, defaults and ConfigError as loadTelemetryConfig. */
export function telemetryConfig(input: TelemetryConfigInput): TelemetryConfig {
  return toTelemetryConfig(buildConfig('telemetry', telemetryEnvSchema, input));
}

function toTelemetryConfig(e: z.output<typeof telemetryEnvSchema>): TelemetryConfig {
  return {
    ...commonConfig(e),
    database: { url: e.DATABASE_URL, poolSize: e.DB_POOL_SIZE },
    ingest: {
      batchSize: e.INGEST_BATCH_SIZE,
      flushMs: e.INGEST_FLUSH_MS,
      maxAckPending: e.INGEST_MAX_ACK_PENDING,
      ackWaitMs: e.INGEST_ACK_WAIT_MS,
      retryDelayMs: e.INGEST_RETRY_DELAY_MS,
      concurrency: e.INGEST_CONCURRENCY,
    },
    retention: { days: e.RETENTION_DAYS, maintenanceMs: e.PARTITION_MAINTENANCE_MS },
  };
}
