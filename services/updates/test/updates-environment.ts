import { randomBytes } from 'node:crypto';
import { loadAttestationConfig, startAttestation, type RunningAttestation } from '@rampart/attestation';
import { NatsBus, createLogger } from '@rampart/service-kit';
import {
  TEST_NATS_URL,
  callApi,
  attestationTestEnv,
  createTestTenants,
  createTestDatabase,
  createTestPki,
  removeBusPrefix,
  uniqueBusPrefix,
  type TestDatabase,
  type TestPki,
} from '@rampart/testing';
import { startUpdates, type RunningUpdates } from '../src/start-updates.js';
import { loadUpdatesConfig } from '../src/updates.config.js';

export interface ApiAnswer {
  readonly status: number;
  // Answers are checked field by field in the tests.
  readonly body: any;
}

export interface UpdatesEnvironment {
  readonly db: TestDatabase;
  readonly pki: TestPki;
  readonly attestation: RunningAttestation;
  readonly updates: RunningUpdates;
  readonly bus: NatsBus;
  /** Administrator tokens of tenants acme and globex, and a Reader of acme (`acmeReader`). */
  readonly tokens: Readonly<Record<'acme' | 'globex' | 'acmeReader', string>>;
  /** A tenant REST call to the updates service; a Buffer body goes as application/octet-stream. */
  readonly api: (token: string, method: string, path: string, body?: unknown) => Promise<ApiAnswer>;
  /** Claims a device for a tenant; answers the tenant's update root the claim gives, for the device to pin. */
  readonly claim: (tenantToken: string, deviceId: string) => Promise<string>;
  close(): Promise<void>;
}

/** The updates service on real PostgreSQL and NATS, with the attestation service holding tenants, tokens and claims. */
export async function startUpdatesEnvironment(name: string, env: Record<string, string> = {}): Promise<UpdatesEnvironment> {
  const db = await createTestDatabase();
  const pki = await createTestPki();
  const prefix = uniqueBusPrefix(name);
  const operator = randomBytes(24).toString('hex');
  const attestation = await startAttestation(
    loadAttestationConfig(attestationTestEnv({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, pki, operatorToken: operator })),
    createLogger('attestation', 'silent'),
  );
  const updates = await startUpdates(
    loadUpdatesConfig({
      DATABASE_URL: db.url,
      NATS_URL: TEST_NATS_URL,
      BUS_PREFIX: prefix,
      HTTP_PORT: '0',
      DEVICE_HOST: '127.0.0.1',
      DEVICE_PORT: '0',
      UPDATES_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      TLS_CERT_FILE: pki.files.gatewayCert,
      TLS_KEY_FILE: pki.files.gatewayKey,
      PLATFORM_CA_FILE: pki.files.platformCa,
      ...env,
    }),
    createLogger('updates', 'silent'),
  );
  const bus = await NatsBus.connect({ url: TEST_NATS_URL, prefix, name: `${name}-test`, onError: () => undefined });
  const tokens = await createTestTenants(attestation.url, operator);
  return {
    db,
    pki,
    attestation,
    updates,
    bus,
    tokens,
    api: (token, method, path, body) => callApi(updates.url, token, method, path, body),
    claim: async (tenantToken, deviceId) => {
      const r = await fetch(`${attestation.url}/v1/devices/${deviceId}/claim`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${tenantToken}` },
      });
      if (!r.ok) throw new Error(`claim failed: ${r.status}`);
      const { updateRoot } = (await r.json()) as { updateRoot: string | null };
      if (updateRoot === null) throw new Error('the claim gave no update root');
      return updateRoot;
    },
    async close() {
      await updates.close();
      await attestation.close();
      await bus.drain();
      await removeBusPrefix(prefix);
      await db.drop();
      await pki.remove();
    },
  };
}
