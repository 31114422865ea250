import { readFileSync } from 'node:fs';
import { z } from 'zod';

export interface ConfigIssue {
  readonly key: string;
  readonly message: string;
}

/** Start-up configuration is invalid; `issues` names every bad key at once. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly service: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(`${service}: invalid configuration: ${issues.map((i) => `${i.key}: ${i.message}`).join('; ')}`);
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Validates the environment against a schema of environment variable names
 * and returns the typed result. Every problem is reported, not only the
 * first, so an operator fixes a deployment in one go.
 */
export function loadConfig<S extends z.ZodType>(service: string, schema: S, env: Env): z.infer<S> {
  const cleaned = withoutUnset(env);
  const secrets = readSecretFiles(cleaned);
  return validate(service, schema, { ...cleaned, ...secrets.values }, secrets.issues);
}

/**
 * A value as a program hands it over: where the schema coerces (it reads a
 * number from an environment string), the coerced type; elsewhere (paths,
 * URLs, keys, names) what the schema reads.
 */
type TypedValue<In, Out> = unknown extends In ? NonNullable<Out> : Exclude<In, undefined>;

/**
 * The typed counterpart of a schema's environment: the same keys (optional
 * where the schema has a default), numbers as numbers. What a process that
 * composes services in code (the embedded mode) passes instead of strings.
 * Switches (`env.bool()`) still take the environment's words, 'true' or
 * 'false' ('1' or '0'): their schema reads words, it does not coerce.
 */
export type ConfigInput<S extends z.ZodType> = {
  readonly [K in keyof z.input<S>]: K extends keyof z.output<S> ? TypedValue<z.input<S>[K], z.output<S>[K]> : never;
};

/**
 * Validates typed values against the same schema as loadConfig, with the
 * same defaults and the same ConfigError naming every bad key. An empty
 * string is unset here too, so a value means the same both ways; the
 * values are given, so no `<KEY>_FILE` secret is read.
 */
export function buildConfig<S extends z.ZodType>(service: string, schema: S, input: ConfigInput<S>): z.infer<S> {
  return validate(service, schema, withoutUnset<unknown>(input), []);
}

/** Empty strings mean "unset" in most deployment tools; treat them so. */
function withoutUnset<V>(values: Readonly<Record<string, V | undefined>>): Record<string, V> {
  return Object.fromEntries(Object.entries(values).filter((entry): entry is [string, V] => entry[1] !== undefined && entry[1] !== ''));
}

function validate<S extends z.ZodType>(
  service: string,
  schema: S,
  values: Record<string, unknown>,
  earlier: readonly ConfigIssue[],
): z.infer<S> {
  const result = schema.safeParse(values);
  if (result.success && earlier.length === 0) return result.data;
  const issues = [
    ...earlier,
    ...(result.success ? [] : result.error.issues).map((issue) => ({
      key: issue.path.length > 0 ? issue.path.map(String).join('.') : '(environment)',
      message: issue.message,
    })),
  ];
  throw new ConfigError(service, issues);
}

/**
 * Secrets a deployment may hand over in a file named by `<KEY>_FILE` instead
 * of in the environment (Docker's convention, as the postgres and grafana
 * images follow it): docker/compose.yaml generates them into a volume on
 * first start, where nothing can put them into an environment variable.
 */
export const FILE_BACKED_KEYS = [
  'DATABASE_URL',
  'CA_KEY_ENCRYPTION_KEY',
  'UPDATES_KEY_ENCRYPTION_KEY',
  'PLATFORM_ADMIN_TOKEN',
  'TENANT_TOKEN',
] as const;

/** Each `<KEY>_FILE` of FILE_BACKED_KEYS read (one trailing newline dropped); a file that cannot be read, or a key set both ways, is an issue. */
function readSecretFiles(env: Readonly<Record<string, string | undefined>>): {
  values: Record<string, string>;
  issues: ConfigIssue[];
} {
  const values: Record<string, string> = {};
  const issues: ConfigIssue[] = [];
  for (const key of FILE_BACKED_KEYS) {
    const path = env[`${key}_FILE`];
    // Empty is none: a Compose override cannot unset a variable the base file sets, only empty it.
    if (path === undefined || path === '') continue;
    if (env[key] !== undefined) {
      issues.push({ key: `${key}_FILE`, message: `set ${key} or ${key}_FILE, not both` });
      continue;
    }
    try {
      const content = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
      // An empty file stays unset, so the schema says the key is required.
      if (content !== '') values[key] = content;
    } catch (error) {
      issues.push({ key: `${key}_FILE`, message: `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` });
    }
  }
  return { values, issues };
}

/** Helpers for environment values, each with a named unit. */
export const env = {
  port: () => z.coerce.number().int().min(0).max(65535),
  positiveInt: () => z.coerce.number().int().positive(),
  milliseconds: () => z.coerce.number().int().positive(),
  bool: () => z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1'),
  url: (protocols: readonly string[]) =>
    z
      .string()
      .url()
      .refine((v) => protocols.some((p) => v.startsWith(`${p}://`)), `must be a ${protocols.join(' or ')} URL`),
};

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const BUS_KINDS = ['nats', 'in-process'] as const;
export type BusKind = (typeof BUS_KINDS)[number];
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
export const DEFAULT_HTTP_HOST = '127.0.0.1';

/** Keys every service reads. */
export const commonEnvShape = {
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  HTTP_HOST: z.string().min(1).default(DEFAULT_HTTP_HOST),
  /**
   * `nats` (the default: NATS_URL is then required) or `in-process`, chosen explicitly, for one service alone in
   * development. A distributed install with a forgotten NATS_URL must refuse to start, not split into islands.
   */
  BUS: z.enum(BUS_KINDS).default('nats'),
  /** One NATS URL, or a cluster's seed URLs separated by commas. */
  NATS_URL: z
    .string()
    .refine(
      (v) => v.split(',').every((u) => env.url(['nats', 'tls']).safeParse(u.trim()).success),
      'must be a nats or tls URL, or several separated by commas',
    )
    .optional(),
  /** Prefix for every NATS subject and stream, to share one NATS server. */
  BUS_PREFIX: z
    .string()
    .regex(/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/i, 'letters, digits, _ and - separated by dots')
    .default(''),
  OTEL_EXPORTER_OTLP_ENDPOINT: env.url(['http', 'https']).optional(),
  /** Share of traces kept (decided by trace id, the same in every service). */
  TRACE_SAMPLE_RATIO: z.coerce.number().min(0).max(1).default(0.05),
  /** Copies JetStream keeps of each stream the service creates: 3 on a 3-node cluster survives losing a node. */
  STREAM_REPLICAS: env.positiveInt().max(5).default(1),
  SHUTDOWN_TIMEOUT_MS: env.milliseconds().default(DEFAULT_SHUTDOWN_TIMEOUT_MS),
};

export type LogLevel = (typeof LOG_LEVELS)[number];

interface BusChoice {
  readonly BUS?: unknown;
  readonly NATS_URL?: unknown;
}

/**
 * A service schema's check that the bus is chosen, not defaulted into: NATS needs NATS_URL, and an in-process bus
 * with a NATS_URL is a contradiction. Run even when other keys are bad (`when`), so one start names every problem.
 */
export function withBusChoice<S extends z.ZodType<BusChoice>>(schema: S): S {
  return schema
    .refine((e) => e.BUS !== 'nats' || e.NATS_URL !== undefined, {
      path: ['NATS_URL'],
      message: 'required: the NATS server(s) this service talks through (or BUS=in-process to run it alone, for development)',
      when: () => true,
    })
    .refine((e) => e.BUS !== 'in-process' || e.NATS_URL === undefined, {
      path: ['BUS'],
      message: 'in-process contradicts NATS_URL: unset one of them',
      when: () => true,
    });
}

/** The part of every service's configuration that the service kit consumes. */
export interface CommonConfig {
  readonly logLevel: LogLevel;
  readonly http: { readonly host: string; readonly port: number };
  readonly bus: BusKind;
  readonly natsUrl: string | undefined;
  readonly busPrefix: string;
  readonly otlpEndpoint: string | undefined;
  readonly streamReplicas: number;
  readonly traceSampleRatio: number;
  readonly shutdownTimeoutMs: number;
}

interface CommonEnv {
  readonly LOG_LEVEL: LogLevel;
  readonly HTTP_HOST: string;
  readonly HTTP_PORT: number;
  readonly BUS: BusKind;
  readonly NATS_URL?: string | undefined;
  readonly BUS_PREFIX: string;
  readonly OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
  readonly STREAM_REPLICAS: number;
  readonly TRACE_SAMPLE_RATIO: number;
  readonly SHUTDOWN_TIMEOUT_MS: number;
}

/** Maps the validated common keys (plus the service's HTTP_PORT) to `CommonConfig`. */
export function commonConfig(e: CommonEnv): CommonConfig {
  return {
    logLevel: e.LOG_LEVEL,
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    bus: e.BUS,
    natsUrl: e.NATS_URL,
    busPrefix: e.BUS_PREFIX,
    otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
    streamReplicas: e.STREAM_REPLICAS,
    traceSampleRatio: e.TRACE_SAMPLE_RATIO,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
  };
}
