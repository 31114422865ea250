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
import { keyProviderConfig, keyProviderEnvShape, withKeyProviderChoice, type KeyProviderConfig } from '@rampart/trust';
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
  ...keyProviderEnvShape,
  HTTP_PORT: env.port().default(DEFAULT_HTTP_PORT),
  DATABASE_URL: env.url(['postgres', 'postgresql']),
  DB_POOL_SIZE: env.positiveInt().max(200).default(10),
  /**
   * The CA that signs tenant CAs (PEM). Two tiers (development, KEYS_PROVIDER=software): the platform root, its
   * key in PLATFORM_CA_KEY_FILE. Three tiers (KEYS_PROVIDER=pkcs11): the platform issuing CA from the ceremony
   * (`issuing.pem`), its key ISSUING_CA_KEY_LABEL in the token.
   */
  PLATFORM_CA_CERT_FILE: z
    .string()
    .min(1, 'path to the platform CA certificate (PEM): the root (two tiers) or the issuing CA (three tiers)'),
  /** Two tiers only: the platform root's private key (PEM, from a mounted secret). */
  PLATFORM_CA_KEY_FILE: z.string().min(1).optional(),
  /** Three tiers only: the offline root(s), PEM; several while a root rotation is under way. */
  PLATFORM_ROOT_CERT_FILE: z.string().min(1).optional(),
  /** Three tiers, optional: the root's CRL from the ceremony (`rampart ceremony root crl`), served at ROOT_CRL_PATH. */
  PLATFORM_ROOT_CRL_FILE: z.string().min(1).optional(),
  MANUFACTURER_CA_FILE: z.string().min(1, 'path to the trusted manufacturer CA certificates (PEM)'),
  /** Trusted TPM vendor roots (PEM) that sign EK certificates; unset, TPM 2.0 devices are refused EK_UNTRUSTED. */
  TPM_VENDOR_CA_FILE: z.string().min(1).optional(),
  /**
   * Key-encryption key for tenant CA private keys at rest: 32 bytes, base64. Required with KEYS_PROVIDER=software;
   * optional with pkcs11, where it only opens tenant CA keys sealed before the move to three tiers (their CRLs are
   * signed with it until they expire) and, unless ATTESTATION_NONCE_KEY is given, keys the nonces' seal.
   */
  CA_KEY_ENCRYPTION_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64 encoded (openssl rand -base64 32)')
    .optional(),
  /**
   * The secret every replica derives the attestation nonces' HMAC key from: 32 bytes, base64, the same on every
   * replica. Unset: CA_KEY_ENCRYPTION_KEY is used, as before this setting existed; one of the two is required.
   */
  ATTESTATION_NONCE_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64 encoded (openssl rand -base64 32)')
    .optional(),
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

/**
 * Which tier structure the key provider implies, checked together: two tiers
 * (root key in a file) only with software keys, three tiers (offline root,
 * issuing key in the token) with pkcs11, so a token install never quietly
 * keeps a CA key in a file. Runs even when other keys are bad.
 */
function withCaHierarchy<S extends z.ZodType<z.output<typeof attestationEnvObject>>>(schema: S): S {
  const pkcs11 = (e: z.output<typeof attestationEnvObject>) => e.KEYS_PROVIDER === 'pkcs11';
  const always = { when: () => true };
  return schema
    .refine((e) => pkcs11(e) || e.PLATFORM_CA_KEY_FILE !== undefined, {
      path: ['PLATFORM_CA_KEY_FILE'],
      message: "required with KEYS_PROVIDER=software: the platform root's key file (two tiers)",
      ...always,
    })
    .refine((e) => !pkcs11(e) || e.PLATFORM_CA_KEY_FILE === undefined, {
      path: ['PLATFORM_CA_KEY_FILE'],
      message: "refused with KEYS_PROVIDER=pkcs11: the issuing CA's key is in the token, no CA key is read from a file",
      ...always,
    })
    .refine((e) => !pkcs11(e) || e.PLATFORM_ROOT_CERT_FILE !== undefined, {
      path: ['PLATFORM_ROOT_CERT_FILE'],
      message: 'required with KEYS_PROVIDER=pkcs11: the offline root certificate(s) the issuing CA chains to',
      ...always,
    })
    .refine((e) => pkcs11(e) || e.PLATFORM_ROOT_CERT_FILE === undefined, {
      path: ['PLATFORM_ROOT_CERT_FILE'],
      message: 'only with KEYS_PROVIDER=pkcs11 (three tiers); with software keys PLATFORM_CA_CERT_FILE is the root',
      ...always,
    })
    .refine((e) => pkcs11(e) || e.PLATFORM_ROOT_CRL_FILE === undefined, {
      path: ['PLATFORM_ROOT_CRL_FILE'],
      message: "only with KEYS_PROVIDER=pkcs11 (three tiers): the offline root's CRL",
      ...always,
    })
    .refine((e) => pkcs11(e) || e.CA_KEY_ENCRYPTION_KEY !== undefined, {
      path: ['CA_KEY_ENCRYPTION_KEY'],
      message: 'required with KEYS_PROVIDER=software: it seals the tenant CA keys at rest',
      ...always,
    })
    .refine((e) => !pkcs11(e) || e.CA_KEY_ENCRYPTION_KEY !== undefined || e.ATTESTATION_NONCE_KEY !== undefined, {
      path: ['ATTESTATION_NONCE_KEY'],
      message: 'required with KEYS_PROVIDER=pkcs11 when CA_KEY_ENCRYPTION_KEY is not given: it keys the nonces every replica checks',
      ...always,
    });
}

export const attestationEnvSchema = withCaHierarchy(withKeyProviderChoice(withBusChoice(attestationEnvObject)));

/**
 * The platform's CA tiers. `two-tier` (development): the root signs tenant CAs
 * with its key from a file. `three-tier`: the offline root signed the issuing
 * CA, whose key is in the provider and signs tenant CAs.
 */
export type CaHierarchy =
  | { readonly kind: 'two-tier'; readonly rootCertFile: string; readonly rootKeyFile: string }
  | { readonly kind: 'three-tier'; readonly issuingCertFile: string; readonly rootCertFile: string; readonly rootCrlFile?: string };

export interface AttestationConfig extends CommonConfig {
  readonly database: { readonly url: string; readonly poolSize: number };
  readonly ca: {
    readonly hierarchy: CaHierarchy;
    /** Where the CA keys live and are used: software (two tiers) or the token (three tiers). */
    readonly keys: KeyProviderConfig;
    readonly manufacturerCaFile: string;
    /** TPM vendor roots for EK certificates; undefined: no TPM device attests. */
    readonly tpmVendorCaFile: string | undefined;
    /** Seals tenant CA keys (software); with pkcs11 only opens those sealed before three tiers, if given. */
    readonly keyEncryptionKey: Buffer | undefined;
    /** What the nonces' HMAC key is derived from: ATTESTATION_NONCE_KEY, else CA_KEY_ENCRYPTION_KEY. */
    readonly nonceSecret: Buffer;
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
      hierarchy: caHierarchy(e),
      keys: keyProviderConfig(e),
      manufacturerCaFile: e.MANUFACTURER_CA_FILE,
      tpmVendorCaFile: e.TPM_VENDOR_CA_FILE,
      keyEncryptionKey: e.CA_KEY_ENCRYPTION_KEY === undefined ? undefined : Buffer.from(e.CA_KEY_ENCRYPTION_KEY, 'base64'),
      // The schema requires one of the two.
      nonceSecret: Buffer.from(e.ATTESTATION_NONCE_KEY ?? e.CA_KEY_ENCRYPTION_KEY ?? '', 'base64'),
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

function caHierarchy(e: z.output<typeof attestationEnvSchema>): CaHierarchy {
  if (e.KEYS_PROVIDER === 'software' && e.PLATFORM_CA_KEY_FILE !== undefined) {
    return { kind: 'two-tier', rootCertFile: e.PLATFORM_CA_CERT_FILE, rootKeyFile: e.PLATFORM_CA_KEY_FILE };
  }
  if (e.KEYS_PROVIDER === 'pkcs11' && e.PLATFORM_ROOT_CERT_FILE !== undefined) {
    return {
      kind: 'three-tier',
      issuingCertFile: e.PLATFORM_CA_CERT_FILE,
      rootCertFile: e.PLATFORM_ROOT_CERT_FILE,
      ...(e.PLATFORM_ROOT_CRL_FILE === undefined ? {} : { rootCrlFile: e.PLATFORM_ROOT_CRL_FILE }),
    };
  }
  throw new Error('caHierarchy: the schema did not apply withCaHierarchy');
}
