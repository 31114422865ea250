import { randomBytes } from 'node:crypto';
import { metrics } from '@opentelemetry/api';
import { createLogger, openDatabase } from '@rampart/service-kit';
import { createTestDatabase, queryDatabase, type TestDatabase } from '@rampart/testing';
import {
  KeyVault,
  MetadataFile,
  SoftwareKeyProvider,
  TufSigningKey,
  UpdateMetadataClient,
  metadataBytes,
  signRoot,
  type MetadataFetch,
} from '@rampart/trust';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkCache, ImagesRepository } from '../src/images/images.repository.js';
import { TufKeysInProvider1734000000006 } from '../src/migrations/1734000000006-tuf-keys-in-provider.js';
import { updatesDatabase, updatesMigrations } from '../src/migrations/index.js';
import { Transactions } from '../src/persistence/transactions.js';
import { resealLegacyTufKeys } from '../src/tuf/legacy-tuf-keys.js';
import { SealedKeyTable } from '../src/tuf/sealed-key-table.js';
import { TenantMetadata } from '../src/tuf/tenant-metadata.js';
import { TufKeyring } from '../src/tuf/tuf-keyring.js';
import { TufMetadataRepository } from '../src/tuf/tuf-metadata.repository.js';

const DAY = 86_400_000;
const DEVICE = 'd'.repeat(64);
const ROLES = ['targets', 'snapshot', 'timestamp', 'director'] as const;

/**
 * An install from before the key provider: its tenant's TUF keys sealed in
 * `signing_keys` (associated data `<tenant>/<role>`) and a root its devices
 * pin. After the migration and the start-up re-seal, the software provider
 * signs with those very keys, so the pinned root verifies what it signs.
 */
describe('TUF keys from before the key provider', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  const kek = randomBytes(32);
  const vault = new KeyVault(kek);
  const logger = createLogger('updates', 'silent');
  let pinnedRoot = '';

  beforeAll(async () => {
    db = await createTestDatabase();
    const before = await openDatabase(
      {
        ...updatesDatabase,
        url: db.url,
        migrations: updatesMigrations.slice(0, updatesMigrations.indexOf(TufKeysInProvider1734000000006)),
      },
      logger,
    );
    // As TenantMetadata.ensure stored them then: Ed25519 PEMs sealed with tenant/role bound, and root 1 signed.
    const keys = { root: TufSigningKey.generate(), ...Object.fromEntries(ROLES.map((r) => [r, TufSigningKey.generate()])) } as Record<
      'root' | (typeof ROLES)[number],
      TufSigningKey
    >;
    for (const [role, key] of Object.entries(keys)) {
      await before.query(`INSERT INTO updates.signing_keys (key_id, tenant_id, role, public_hex, sealed) VALUES ($1, 'acme', $2, $3, $4)`, [
        key.keyId,
        role,
        key.publicHex,
        vault.seal(key.exportPrivatePem(), `acme/${role}`),
      ]);
    }
    const grants = {
      root: { keys: [keys.root.key], threshold: 1 },
      targets: [keys.targets.key],
      snapshot: [keys.snapshot.key],
      timestamp: [keys.timestamp.key],
      director: [keys.director.key],
    };
    const root = await signRoot(1, new Date(Date.now() + 365 * DAY), grants, [keys.root]);
    pinnedRoot = metadataBytes(root).toString();
    await before.query(`INSERT INTO updates.metadata (tenant_id, role, version, body, expires_at) VALUES ('acme', 'root', 1, $1, $2)`, [
      pinnedRoot,
      new Date(root.signed.expires),
    ]);
    await before.destroy();
    dataSource = await openDatabase({ ...updatesDatabase, url: db.url, poolSize: 4 }, logger);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('re-seals them under their labels once; the software provider then signs what the pinned root verifies', async () => {
    const repository = new TufMetadataRepository(dataSource);
    const transactions = new Transactions(dataSource);
    const provider = new SoftwareKeyProvider(vault, new SealedKeyTable(dataSource));
    const keyring = new TufKeyring(provider, repository);
    // Before the re-seal (or on an install switched to pkcs11): named as such, never signed with another key.
    await expect(keyring.signer('acme', 'timestamp').then((s) => s.sign(Buffer.from('x')))).rejects.toMatchObject({
      name: 'SigningUnavailableError',
      message: 'signing key unavailable; retry later',
      detail: expect.stringMatching(/sealed before the key provider/),
    });
    expect(await repository.tenantsWithKeysElsewhere('pkcs11')).toEqual(['acme']);
    expect(await repository.tenantsWithKeysElsewhere('software')).toEqual([]);
    expect(await resealLegacyTufKeys(repository, transactions, vault, logger)).toBe(5);
    expect(await resealLegacyTufKeys(repository, transactions, vault, logger)).toBe(0);
    const rows = await queryDatabase<{ role: string; label: string; legacy_sealed: Buffer | null }>(
      db.url,
      `SELECT role, label, legacy_sealed FROM updates.signing_keys ORDER BY role`,
    );
    expect(rows.every((r) => r.legacy_sealed === null)).toBe(true);
    expect(rows.filter((r) => r.role !== 'root').map((r) => r.label)).toEqual(
      ['director', 'snapshot', 'targets', 'timestamp'].map((r) => `rampart/acme/tuf-${r}`),
    );
    expect(await queryDatabase(db.url, `SELECT count(*)::int AS n FROM updates.sealed_keys`)).toEqual([{ n: 5 }]);

    const metadata = new TenantMetadata(
      transactions,
      repository,
      keyring,
      new ImagesRepository(dataSource, new ChunkCache(0)),
      { rootDays: 365, targetsDays: 90, snapshotDays: 7, timestampHours: 24, directorHours: 24 },
      { keys: 1, threshold: 1 },
      logger,
      metrics.getMeter('test'),
    );
    await metadata.ensure('acme');
    await transactions.run((tx) => metadata.publish('acme', tx));
    const director = await metadata.direct('acme', DEVICE, [], { deployment: null });
    const fetch: MetadataFetch = async (name) => (name === MetadataFile.director ? director : metadata.file('acme', name));
    await expect(new UpdateMetadataClient({ root: pinnedRoot }, DEVICE).refresh(fetch)).resolves.toMatchObject({ targets: [] });

    // The root keys came along too: a rotation signed with them is one the pinned root's devices follow.
    expect(await metadata.rotateRoot('acme')).toBe(2);
    const client = new UpdateMetadataClient({ root: pinnedRoot }, DEVICE);
    await client.refresh(fetch);
    expect((JSON.parse(client.trustedMetadata.root) as { signed: { version: number } }).signed.version).toBe(2);
    await provider.close();
  });
});
