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
import type { AdmissionLimits } from './attestation/attestation-admission.js';

export const DEFAULT_HTTP_PORT = DEFAULT_PORTS.attestation;
export const DEFAULT_DEVICE_CERT_VALIDITY_HOURS = 24;
export const DEFAULT_NONCE_TTL_MS = 60_000;
export const DEFAULT_TENANT_CA_VALIDITY_DAYS = 365;
/**
 * Per device id, over every gateway replica: above the gateway's own limit
 * (12 a minute, burst 10), so this is the backstop when several gateways
 * pass one identity's messages on.
 */
export const DEFAULT_ATTEST_DEVICE_RATE_PER_MIN = 30;
export const DEFAULT_ATTEST_DEVICE_BURST = 20;
/** Requests handled at once: verification is CPU, then a database round trip shared in batches. */
export const DEFAULT_ATTEST_MAX_CONCURRENT = 64;
export const DEFAULT_ATTEST_MAX_WAITING = 2_048;
/** A request that names no deadline is dropped once it has waited this long (the gateway gives up after 10 s). */
export const DEFAULT_ATTEST_DEADLINE_MS = 10_000;

const attestationEnvObject = z.object({
  ...commonEnvShape,
  HTTP_PORT: env.port().default(DEFAULT_HTTP_PORT),
  DATABASE_URL: env.url(['postgres', 'postgresql']),
  DB_POOL_SIZE: env.positiveInt().max(200).default(10),
  PLATFORM_CA_CERT_FILE: z.string().min(1, 'path to the platform root CA certificate (PEM)'),
  PLATFORM_CA_KEY_FILE: z.string().min(1, 'path to the platform root CA private key (PEM, from a mounted secret)'),
  MANUFACTURER_CA_FILE: z.string().min(1, 'path to the trusted manufacturer CA certificates (PEM)'),
  /** Key-encryption key for tenant CA private keys at rest: 32 bytes, base64. */
  CA_KEY_ENCRYPTION_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64 encoded (openssl rand -base64 32)'),
  /** Operator token for platform-level acts (creating tenants, known-good measurements): at least 32 characters. */
  PLATFORM_ADMIN_TOKEN: z.string().min(32, 'at least 32 characters'),
  DEVICE_CERT_VALIDITY_HOURS: env
    .positiveInt()
    .max(24 * 30)
    .default(DEFAULT_DEVICE_CERT_VALIDITY_HOURS),
  NONCE_TTL_MS: env
    .milliseconds()
    .max(10 * 60_000)
    .default(DEFAULT_NONCE_TTL_MS),
  TENANT_CA_VALIDITY_DAYS: env.positiveInt().max(3650).default(DEFAULT_TENANT_CA_VALIDITY_DAYS),
  /**
   * This service's public base URL, as devices and relying parties reach it
   * (`https://attestation.example.com`): certificates it issues name their
   * CRL there (`/v1/platform/crl`, `/v1/tenants/<id>/ca-certificates/<ca>/crl`).
   */
  PUBLIC_BASE_URL: env.url(['http', 'https']).refine((v) => {
    const url = new URL(v);
    return url.search === '' && url.hash === '' && url.username === '' && url.password === '';
  }, 'a base URL: no query, fragment or credentials'),
  /** How often the fleet gauges (devices by attestation state and OS version) are read from the database. */
  FLEET_GAUGES_MS: env.milliseconds().default(30_000),
  ATTEST_DEVICE_RATE_PER_MIN: env.positiveInt().default(DEFAULT_ATTEST_DEVICE_RATE_PER_MIN),
  ATTEST_DEVICE_BURST: env.positiveInt().default(DEFAULT_ATTEST_DEVICE_BURST),
  ATTEST_MAX_CONCURRENT: env.positiveInt().default(DEFAULT_ATTEST_MAX_CONCURRENT),
  ATTEST_MAX_WAITING: env.positiveInt().default(DEFAULT_ATTEST_MAX_WAITING),
  ATTEST_DEADLINE_MS: env.milliseconds().max(60_000).default(DEFAULT_ATTEST_DEADLINE_MS),
});

export const attestationEnvSchema = withBusChoice(attestationEnvObject);

export interface AttestationConfig extends CommonConfig {
  readonly database: { readonly url: string; readonly poolSize: number };
  readonly ca: {
    readonly platformCertFile: string;
    readonly platformKeyFile: string;
    readonly manufacturerCaFile: string;
    readonly keyEncryptionKey: Buffer;
    readonly deviceCertValidityHours: number;
    readonly tenantCaValidityDays: number;
    /** No trailing slash. */
    readonly publicBaseUrl: string;
  };
  readonly nonceTtlMs: number;
  readonly platformAdminToken: string;
  readonly fleetGaugesMs: number;
  readonly admission: AdmissionLimits;
}

/** The typed values `attestationConfig` takes: the environment's keys, numbers as numbers. */
export type AttestationConfigInput = ConfigInput<typeof attestationEnvSchema>;

/** Reads the process environment (or an env-shaped record): strings, `<KEY>_FILE` secrets. */
export function loadAttestationConfig(source: Env): AttestationConfig {
  return toAttestationConfig(loadConfig('attestation', attestationEnvSchema, source));
}

/** Builds the configuration from typed values (a composition in code); the same schema, defaults and ConfigError as loadAttestationConfig. */
export function attestationConfig(input: AttestationConfigInput): AttestationConfig {
  return toAttestationConfig(buildConfig('attestation', attestationEnvSchema, input));
}

function toAttestationConfig(e: z.output<typeof attestationEnvSchema>): AttestationConfig {
  return {
    ...commonConfig(e),
    database: { url: e.DATABASE_URL, poolSize: e.DB_POOL_SIZE },
    ca: {
      platformCertFile: e.PLATFORM_CA_CERT_FILE,
      platformKeyFile: e.PLATFORM_CA_KEY_FILE,
      manufacturerCaFile: e.MANUFACTURER_CA_FILE,
      keyEncryptionKey: Buffer.from(e.CA_KEY_ENCRYPTION_KEY, 'base64'),
      deviceCertValidityHours: e.DEVICE_CERT_VALIDITY_HOURS,
      tenantCaValidityDays: e.TENANT_CA_VALIDITY_DAYS,
      publicBaseUrl: e.PUBLIC_BASE_URL.replace(/\/+$/, ''),
    },
    nonceTtlMs: e.NONCE_TTL_MS,
    platformAdminToken: e.PLATFORM_ADMIN_TOKEN,
    fleetGaugesMs: e.FLEET_GAUGES_MS,
    admission: {
      deviceRatePerMinute: e.ATTEST_DEVICE_RATE_PER_MIN,
      deviceBurst: e.ATTEST_DEVICE_BURST,
      maxConcurrent: e.ATTEST_MAX_CONCURRENT,
      maxWaiting: e.ATTEST_MAX_WAITING,
      defaultDeadlineMs: e.ATTEST_DEADLINE_MS,
    },
  };
}
