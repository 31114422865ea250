import { z } from 'zod';
import { DEFAULT_PORTS } from '@rampart/contracts/ports';
import {
  DEFAULT_HTTP_HOST,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  LOG_LEVELS,
  buildConfig,
  env,
  loadConfig,
  type ConfigInput,
  type Env,
  type LogLevel,
} from '@rampart/service-kit/process';

/** The one base URL's port. */
export const DEFAULT_HTTP_PORT = DEFAULT_PORTS.api;
/** Longest wait for an upstream's response headers, and longest silence inside its body, before the front answers 504. */
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 30_000;
/** Longest wait for a TCP connection to an upstream: a host that drops packets is reported, not waited on. */
export const DEFAULT_UPSTREAM_CONNECT_TIMEOUT_MS = 5_000;
/** How often an upstream whose OpenAPI document the front does not have yet is asked again. */
export const DEFAULT_DISCOVERY_INTERVAL_MS = 2_000;
/** How often the documents of upstreams that answer are read again, so a redeployed service's new routes appear. */
export const DEFAULT_DOCUMENT_REFRESH_MS = 60_000;

/** The upstreams, by the name the front reports them under (logs, /readyz, errors, metrics). */
export const UPSTREAMS = ['attestation', 'updates', 'failures', 'telemetry'] as const;
export type UpstreamName = (typeof UPSTREAMS)[number];

const httpUrl = () => env.url(['http', 'https']);

export const apiEnvSchema = z.object({
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  HTTP_HOST: z.string().min(1).default(DEFAULT_HTTP_HOST),
  HTTP_PORT: env.port().default(DEFAULT_HTTP_PORT),
  ATTESTATION_URL: httpUrl(),
  UPDATES_URL: httpUrl(),
  FAILURES_URL: httpUrl(),
  TELEMETRY_URL: httpUrl(),
  UPSTREAM_TIMEOUT_MS: env.milliseconds().default(DEFAULT_UPSTREAM_TIMEOUT_MS),
  UPSTREAM_CONNECT_TIMEOUT_MS: env.milliseconds().default(DEFAULT_UPSTREAM_CONNECT_TIMEOUT_MS),
  DISCOVERY_INTERVAL_MS: env.milliseconds().default(DEFAULT_DISCOVERY_INTERVAL_MS),
  DOCUMENT_REFRESH_MS: env.milliseconds().default(DEFAULT_DOCUMENT_REFRESH_MS),
  OTEL_EXPORTER_OTLP_ENDPOINT: env.url(['http', 'https']).optional(),
  SHUTDOWN_TIMEOUT_MS: env.milliseconds().default(DEFAULT_SHUTDOWN_TIMEOUT_MS),
});

export interface ApiConfig {
  readonly logLevel: LogLevel;
  readonly http: { readonly host: string; readonly port: number };
  /** Each upstream's base URL (no trailing slash). */
  readonly upstreams: Readonly<Record<UpstreamName, string>>;
  readonly upstreamTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly discoveryIntervalMs: number;
  readonly documentRefreshMs: number;
  readonly otlpEndpoint: string | undefined;
  readonly shutdownTimeoutMs: number;
}

const base = (url: string): string => url.replace(/\/+$/, '');

/** The typed values `apiConfig` takes: the environment's keys, numbers as numbers. */
export type ApiConfigInput = ConfigInput<typeof apiEnvSchema>;

/** Reads the process environment (or an env-shaped record): strings, `<KEY>_FILE` secrets. */
export function loadApiConfig(source: Env): ApiConfig {
  return toApiConfig(loadConfig('api', apiEnvSchema, source));
}

/** Builds the configuration from typed values (a composition in code); the same schema, defaults and ConfigError as loadApiConfig. */
export function apiConfig(input: ApiConfigInput): ApiConfig {
  return toApiConfig(buildConfig('api', apiEnvSchema, input));
}

function toApiConfig(e: z.output<typeof apiEnvSchema>): ApiConfig {
  return {
    logLevel: e.LOG_LEVEL,
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    upstreams: {
      attestation: base(e.ATTESTATION_URL),
      updates: base(e.UPDATES_URL),
      failures: base(e.FAILURES_URL),
      telemetry: base(e.TELEMETRY_URL),
    },
    upstreamTimeoutMs: e.UPSTREAM_TIMEOUT_MS,
    connectTimeoutMs: e.UPSTREAM_CONNECT_TIMEOUT_MS,
    discoveryIntervalMs: e.DISCOVERY_INTERVAL_MS,
    documentRefreshMs: e.DOCUMENT_REFRESH_MS,
    otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
  };
}
