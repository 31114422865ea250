import { apiConfig, startApi, type RunningApi } from '@rampart/api';
import { failuresConfig, startFailures, type RunningFailures } from '@rampart/failures';
import { updatesConfig, startUpdates, type RunningUpdates } from '@rampart/updates';
import { join } from 'node:path';
import { attestationConfig, startAttestation, type RunningAttestation } from '@rampart/attestation';
import { gatewayConfig, startGateway, type RunningGateway } from '@rampart/gateway';
import { InProcessBus, NatsBus, type Logger, type LogLevel, type MessageBus } from '@rampart/service-kit';
import { startTelemetry, telemetryConfig, type RunningTelemetry } from '@rampart/telemetry';
import { DEVELOPMENT_TPM_VENDOR_CA, loadOrCreateDevelopmentPki, loadOrCreateTpmVendorCa, type DevelopmentPki } from '@rampart/trust';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './embedded-database.js';
import { ensureDemoTenant, releaseDemoMeasurements } from './demo-setup.js';
import { loadOrCreateFirmwareSigning, type FirmwareSigning } from './firmware-signing.js';
import { ApiClient } from '@rampart/api-client';
import { loopbackPortFor } from './loopback-port.js';
import { loadOrCreateSecret, newKeyEncryptionKey, newOperatorToken } from './secrets.js';
import { prepareDevelopmentKeys, type DevelopmentKeys } from './development-keys.js';
import { importDevelopmentTufRoot } from './development-tuf-root.js';

/** The tenant the demo fleet belongs to. */
export { DEMO_TENANT } from './demo-setup.js';

export interface EmbeddedOptions {
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly natsUrl: string | undefined;
  readonly busPrefix: string;
  readonly mqttPort: number;
  /** The API front: the one base URL for every service's REST API (0: any free port). */
  readonly apiPort: number;
  readonly attestationApiPort: number;
  readonly gatewayHttpPort: number;
  readonly devListenerPort: number | undefined;
  /** Each service's own REST API, behind the front; any free port if omitted. */
  readonly telemetryApiPort?: number;
  readonly failuresApiPort?: number;
  readonly updatesApiPort?: number;
  /** The update server's device endpoint (mutual TLS); any free port if omitted. */
  readonly updatesDevicePort?: number;
  /** Gateway limits tuned for a demo fleet on one machine. */
  readonly deviceRatePerSec: number;
  /**
   * The log level each service's configuration carries (default warn), as its environment would; the loggers
   * themselves are `loggerFor`'s, made by the caller at the level it chose.
   */
  readonly logLevel?: LogLevel;
  /**
   * Where the signing keys live: `software` (sealed in the database, the default) or `pkcs11`, a SoftHSM2 token
   * under the data folder with the platform CA in three tiers from a development ceremony (development-keys.ts).
   */
  readonly keys?: EmbeddedKeys;
}

export const EMBEDDED_KEYS = ['software', 'pkcs11'] as const;
export type EmbeddedKeys = (typeof EMBEDDED_KEYS)[number];

export interface EmbeddedPlatform {
  readonly pki: DevelopmentPki;
  readonly pkiDir: string;
  /** Where the signing keys are, and the root device certificates chain to (PEM file): the offline root in three tiers. */
  readonly keys: {
    readonly provider: EmbeddedKeys;
    readonly platformRootFile: string;
    readonly token?: DevelopmentKeys['token'];
    /** With keys in the token: the demo tenant's offline-signed TUF root (2 of 3 development holders), as imported. */
    readonly tufRootFile?: string;
  };
  /** The emulated device maker's firmware signing keys (kept in the data folder): what the demo fleet is fused to trust. */
  readonly firmware: FirmwareSigning;
  readonly gateway: RunningGateway;
  readonly telemetry: RunningTelemetry;
  readonly attestation: RunningAttestation;
  readonly failures: RunningFailures;
  readonly updates: RunningUpdates;
  /** The API front before the four REST APIs: its `url` is the one base URL to give an operator. */
  readonly api: RunningApi;
  /** The demo tenant and its Administrator token (kept in the data folder). */
  readonly tenant: { readonly id: string; readonly adminToken: string };
  readonly platformClient: ApiClient;
  readonly database: { readonly url: string; readonly embedded: boolean };
  readonly bus: MessageBus;
  close(): Promise<void>;
}

/**
 * Every service in one process: the gateway (Aedes), the attestation,
 * telemetry, failures and updates services behind the API front, PostgreSQL (PGlite over the wire protocol, unless a URL is given) and the
 * bus (NATS when a URL is given, the in-process bus otherwise).
 */
export async function startEmbeddedPlatform(options: EmbeddedOptions, loggerFor: (service: string) => Logger): Promise<EmbeddedPlatform> {
  const pkiDir = join(options.dataDir, 'pki');
  // With keys in the token the platform CA is the ceremony's; the development CA here signs the gateway's TLS certificate only.
  const pki = await loadOrCreateDevelopmentPki(pkiDir, { tlsOnly: options.keys === 'pkcs11' });
  // The development TPM vendor, trusted below (TPM_VENDOR_CA_FILE): `fleet run --tpm-devices` certifies its TPMs' EKs with it.
  await loadOrCreateTpmVendorCa(pkiDir);
  const firmware = await loadOrCreateFirmwareSigning(options.dataDir);
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) await close();
  };
  try {
    let database: EmbeddedDatabase | undefined;
    let databaseUrl = options.databaseUrl;
    if (databaseUrl === undefined) {
      database = await startEmbeddedDatabase(join(options.dataDir, 'pgdata'));
      databaseUrl = database.url;
      const db = database;
      closers.push(() => db.close());
    }
    const bus: MessageBus =
      options.natsUrl === undefined
        ? new InProcessBus(options.busPrefix)
        : await NatsBus.connect({
            url: options.natsUrl,
            prefix: options.busPrefix,
            name: 'rampart-embedded',
            onError: (error) => loggerFor('bus').error({ err: error }, 'bus handler failed'),
          });
    closers.push(() => bus.drain());
    const common = {
      HTTP_HOST: '127.0.0.1',
      // Every service shares the bus made above; its configuration says which kind, as a lone service's must.
      ...(options.natsUrl === undefined ? { BUS: 'in-process' as const } : { NATS_URL: options.natsUrl }),
      BUS_PREFIX: options.busPrefix,
      LOG_LEVEL: options.logLevel ?? 'warn',
    };
    const telemetry = await startTelemetry(
      telemetryConfig({ ...common, HTTP_PORT: options.telemetryApiPort ?? 0, DATABASE_URL: databaseUrl }),
      loggerFor('telemetry'),
      bus,
    );
    closers.push(() => telemetry.close());
    const failures = await startFailures(
      failuresConfig({ ...common, HTTP_PORT: options.failuresApiPort ?? 0, DATABASE_URL: databaseUrl }),
      loggerFor('failures'),
      bus,
    );
    closers.push(() => failures.close());
    const secrets = join(options.dataDir, 'secrets');
    const operatorToken = await loadOrCreateSecret(secrets, 'platform-operator.token', newOperatorToken);
    // Issued certificates name their CRL under the one API URL, so the front's port is settled before attestation starts.
    const apiPort = await loopbackPortFor(options.apiPort);
    // Keys in a token: the token and the three tiers before the services that sign with them start.
    const tokenKeys =
      options.keys === 'pkcs11'
        ? await prepareDevelopmentKeys(options.dataDir, { rootCrlUrl: `http://127.0.0.1:${apiPort}/v1/platform/root-crl` })
        : undefined;
    const platformRootFile = tokenKeys?.platformCa.rootCertFile ?? join(pkiDir, 'platform-ca.crt');
    const attestation = await startAttestation(
      attestationConfig({
        ...common,
        HTTP_PORT: options.attestationApiPort,
        DATABASE_URL: databaseUrl,
        ...(tokenKeys === undefined
          ? { PLATFORM_CA_CERT_FILE: join(pkiDir, 'platform-ca.crt'), PLATFORM_CA_KEY_FILE: join(pkiDir, 'platform-ca.key') }
          : {
              ...tokenKeys.settings,
              // Unset (empty is unset): the issuing CA's key is in the token, and a key file is refused with it.
              PLATFORM_CA_KEY_FILE: '',
              PLATFORM_CA_CERT_FILE: tokenKeys.platformCa.issuingCertFile,
              PLATFORM_ROOT_CERT_FILE: tokenKeys.platformCa.rootCertFile,
              PLATFORM_ROOT_CRL_FILE: tokenKeys.platformCa.rootCrlFile,
            }),
        MANUFACTURER_CA_FILE: join(pkiDir, 'manufacturer-ca.crt'),
        // The development TPM vendor: `fleet run --tpm-devices` certifies its TPMs' EKs with it.
        TPM_VENDOR_CA_FILE: join(pkiDir, `${DEVELOPMENT_TPM_VENDOR_CA}.crt`),
        CA_KEY_ENCRYPTION_KEY: await loadOrCreateSecret(secrets, 'ca-key-encryption.key', newKeyEncryptionKey),
        PLATFORM_ADMIN_TOKEN: operatorToken,
        PUBLIC_BASE_URL: `http://127.0.0.1:${apiPort}`,
      }),
      loggerFor('attestation'),
      bus,
    );
    closers.push(() => attestation.close());
    const platformClient = new ApiClient(attestation.url);
    const tenant = await ensureDemoTenant(platformClient, operatorToken, secrets);
    await releaseDemoMeasurements(platformClient, operatorToken);
    const updates = await startUpdates(
      updatesConfig({
        ...common,
        HTTP_PORT: options.updatesApiPort ?? 0,
        DATABASE_URL: databaseUrl,
        ...(tokenKeys === undefined
          ? { UPDATES_KEY_ENCRYPTION_KEY: await loadOrCreateSecret(secrets, 'updates-key-encryption.key', newKeyEncryptionKey) }
          : // The TUF keys are the token's: nothing is sealed, so no key-encryption key is given.
            { ...tokenKeys.settings, UPDATES_KEY_ENCRYPTION_KEY: '' }),
        DEVICE_HOST: '127.0.0.1',
        DEVICE_PORT: options.updatesDevicePort ?? 0,
        TLS_CERT_FILE: join(pkiDir, 'gateway.crt'),
        TLS_KEY_FILE: join(pkiDir, 'gateway.key'),
        PLATFORM_CA_FILE: platformRootFile,
        MANUFACTURER_CA_FILE: join(pkiDir, 'manufacturer-ca.crt'),
        ROLLOUT_TICK_MS: 1000,
      }),
      loggerFor('updates'),
      bus,
    );
    closers.push(() => updates.close());
    // With keys in the token the platform holds no TUF root key: the demo tenant's root is signed offline and imported.
    const tufRootFile =
      tokenKeys === undefined
        ? undefined
        : await importDevelopmentTufRoot({ dataDir: options.dataDir, updates: new ApiClient(updates.url), tenant });
    const gateway = await startGateway(
      gatewayConfig({
        ...common,
        HTTP_PORT: options.gatewayHttpPort,
        MQTT_HOST: '127.0.0.1',
        MQTT_PORT: options.mqttPort,
        TLS_CERT_FILE: join(pkiDir, 'gateway.crt'),
        TLS_KEY_FILE: join(pkiDir, 'gateway.key'),
        MANUFACTURER_CA_FILE: join(pkiDir, 'manufacturer-ca.crt'),
        PLATFORM_CA_FILE: platformRootFile,
        DEVICE_RATE_PER_SEC: options.deviceRatePerSec,
        ...(options.devListenerPort === undefined ? {} : { DEV_LISTENER_PORT: options.devListenerPort }),
      }),
      loggerFor('gateway'),
      bus,
    );
    closers.push(() => gateway.close());
    // Last, so every upstream answers its first read: the front starts routed, not waiting for discovery.
    const api = await startApi(
      apiConfig({
        HTTP_HOST: common.HTTP_HOST,
        HTTP_PORT: apiPort,
        LOG_LEVEL: common.LOG_LEVEL,
        ATTESTATION_URL: attestation.url,
        UPDATES_URL: updates.url,
        FAILURES_URL: failures.url,
        TELEMETRY_URL: telemetry.url,
      }),
      loggerFor('api'),
    );
    closers.push(() => api.close());
    return {
      pki,
      pkiDir,
      keys: {
        provider: options.keys ?? 'software',
        platformRootFile,
        ...(tokenKeys === undefined ? {} : { token: tokenKeys.token }),
        ...(tufRootFile === undefined ? {} : { tufRootFile }),
      },
      firmware,
      gateway,
      telemetry,
      attestation,
      failures,
      updates,
      api,
      tenant,
      platformClient,
      bus,
      database: { url: databaseUrl, embedded: database !== undefined },
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
