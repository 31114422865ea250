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
import { keyProviderConfig, keyProviderEnvShape, withKeyProviderChoice, type KeyProviderConfig, type RootPolicy } from '@rampart/trust';
import type { MetadataLifetimes } from './tuf/tenant-metadata.js';

export const DEFAULT_HTTP_PORT = DEFAULT_PORTS.updates;
export const DEFAULT_DEVICE_PORT = DEFAULT_PORTS.updatesDevice;

const updatesEnvObject = z
  .object({
    ...commonEnvShape,
    HTTP_PORT: env.port().default(DEFAULT_HTTP_PORT),
    DATABASE_URL: env.url(['postgres', 'postgresql']),
    DB_POOL_SIZE: env.positiveInt().max(200).default(10),
    /** Where the TUF signing keys live (software: sealed in this service's tables; pkcs11: a token, root keys offline). */
    ...keyProviderEnvShape,
    /** Key-encryption key for the TUF signing keys at rest with KEYS_PROVIDER=software: 32 bytes, base64 (a mounted secret). */
    UPDATES_KEY_ENCRYPTION_KEY: z
      .string()
      .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64 encoded (openssl rand -base64 32)')
      .optional(),
    /** Devices fetch metadata and images here over mutual TLS. */
    DEVICE_HOST: z.string().min(1).default('0.0.0.0'),
    DEVICE_PORT: env.port().default(DEFAULT_DEVICE_PORT),
    TLS_CERT_FILE: z.string().min(1, 'path to the update server TLS certificate (PEM)'),
    TLS_KEY_FILE: z.string().min(1, 'path to the update server TLS private key (PEM)'),
    PLATFORM_CA_FILE: z.string().min(1, 'path to the platform root CA certificate (PEM) that operational device certificates chain to'),
    /**
     * Manufacturer root(s), PEM: devices refused attestation for an outdated OS may fetch a newer one on
     * their IDevID (the recovery path). Unset: no recovery path, a quarantined device waits for an operator.
     */
    MANUFACTURER_CA_FILE: z.string().min(1).optional(),
    /** An operational certificate older than this is not a fresh attestation: no director targets, no images. */
    FRESH_ATTESTATION_HOURS: env
      .positiveInt()
      .max(24 * 30)
      .default(24),
    /** Image downloads served at once; the rest wait their turn. Devices on slow links hold a slot for long: raise it for them. */
    DEVICE_IMAGE_STREAMS: env.positiveInt().max(10_000).default(64),
    MAX_IMAGE_MB: env.positiveInt().max(1024).default(64),
    /** Image chunks kept in memory for serving (a rollout sends the same image to every device); 0 turns it off. */
    IMAGE_CACHE_MB: z.coerce.number().int().min(0).max(16_384).default(128),
    ROOT_KEYS: env.positiveInt().max(9).default(1),
    ROOT_THRESHOLD: env.positiveInt().max(9).default(1),
    ROOT_EXPIRY_DAYS: env.positiveInt().default(365),
    TARGETS_EXPIRY_DAYS: env.positiveInt().default(90),
    SNAPSHOT_EXPIRY_DAYS: env.positiveInt().default(7),
    TIMESTAMP_EXPIRY_HOURS: env.positiveInt().default(24),
    DIRECTOR_EXPIRY_HOURS: env.positiveInt().default(24),
    /** How often expiring metadata is looked for and re-signed. */
    METADATA_REFRESH_MS: env.milliseconds().default(5 * 60_000),
    /** How often active rollouts are looked at (timeouts, gates, next waves). */
    ROLLOUT_TICK_MS: env.milliseconds().default(10_000),
  })
  .refine((e) => e.ROOT_THRESHOLD <= e.ROOT_KEYS, { message: 'ROOT_THRESHOLD must not exceed ROOT_KEYS', path: ['ROOT_THRESHOLD'] })
  .refine((e) => e.KEYS_PROVIDER !== 'software' || e.UPDATES_KEY_ENCRYPTION_KEY !== undefined, {
    path: ['UPDATES_KEY_ENCRYPTION_KEY'],
    message: 'required with KEYS_PROVIDER=software: it seals the TUF signing keys at rest',
    when: () => true,
  });

export const updatesEnvSchema = withKeyProviderChoice(withBusChoice(updatesEnvObject));

export interface UpdatesConfig extends CommonConfig {
  readonly database: { readonly url: string; readonly poolSize: number };
  /** Where the TUF signing keys live; with pkcs11 the platform holds no root key (roots are imported). */
  readonly keys: KeyProviderConfig;
  /** Seals the software provider's keys (and re-seals keys from before it); unset with pkcs11. */
  readonly keyEncryptionKey: Buffer | undefined;
  readonly device: {
    readonly host: string;
    readonly port: number;
    readonly tlsCertFile: string;
    readonly tlsKeyFile: string;
    readonly platformCaFile: string;
    readonly manufacturerCaFile: string | undefined;
    readonly freshAttestationMs: number;
    readonly imageStreams: number;
  };
  readonly maxImageBytes: number;
  readonly imageCacheBytes: number;
  readonly rootPolicy: RootPolicy;
  readonly lifetimes: MetadataLifetimes;
  readonly metadataRefreshMs: number;
  readonly rolloutTickMs: number;
}

/** The typed values `updatesConfig` takes: the environment's keys, numbers as numbers. */
export type UpdatesConfigInput = ConfigInput<typeof updatesEnvSchema>;

/** Reads the process environment (or an env-shaped record): strings, `<KEY>_FILE` secrets. */
export function loadUpdatesConfig(source: Env): UpdatesConfig {
  return toUpdatesConfig(loadConfig('updates', updatesEnvSchema, source));
}

/** Builds the configuration from typed values (a composition in code); the same schema, defaults and ConfigError as loadUpdatesConfig. */
export function updatesConfig(input: UpdatesConfigInput): UpdatesConfig {
  return toUpdatesConfig(buildConfig('updates', updatesEnvSchema, input));
}

function toUpdatesConfig(e: z.output<typeof updatesEnvSchema>): UpdatesConfig {
  return {
    ...commonConfig(e),
    database: { url: e.DATABASE_URL, poolSize: e.DB_POOL_SIZE },
    keys: keyProviderConfig(e),
    keyEncryptionKey: e.UPDATES_KEY_ENCRYPTION_KEY === undefined ? undefined : Buffer.from(e.UPDATES_KEY_ENCRYPTION_KEY, 'base64'),
    device: {
      host: e.DEVICE_HOST,
      port: e.DEVICE_PORT,
      tlsCertFile: e.TLS_CERT_FILE,
      tlsKeyFile: e.TLS_KEY_FILE,
      platformCaFile: e.PLATFORM_CA_FILE,
      manufacturerCaFile: e.MANUFACTURER_CA_FILE,
      freshAttestationMs: e.FRESH_ATTESTATION_HOURS * 3_600_000,
      imageStreams: e.DEVICE_IMAGE_STREAMS,
    },
    maxImageBytes: e.MAX_IMAGE_MB * 1024 * 1024,
    imageCacheBytes: e.IMAGE_CACHE_MB * 1024 * 1024,
    rootPolicy: { keys: e.ROOT_KEYS, threshold: e.ROOT_THRESHOLD },
    lifetimes: {
      rootDays: e.ROOT_EXPIRY_DAYS,
      targetsDays: e.TARGETS_EXPIRY_DAYS,
      snapshotDays: e.SNAPSHOT_EXPIRY_DAYS,
      timestampHours: e.TIMESTAMP_EXPIRY_HOURS,
      directorHours: e.DIRECTOR_EXPIRY_HOURS,
    },
    metadataRefreshMs: e.METADATA_REFRESH_MS,
    rolloutTickMs: e.ROLLOUT_TICK_MS,
  };
}
