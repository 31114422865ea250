import { randomBytes } from 'node:crypto';
import { createLogger, openDatabase } from '@rampart/service-kit';
import { createTestDatabase, type TestDatabase } from '@rampart/testing';
import { KeyVault, SoftwareKeyProvider, signTimestamp, tufKeyFromJson } from '@rampart/trust';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updatesDatabase } from '../src/migrations/index.js';
import { Transactions } from '../src/persistence/transactions.js';
import { SealedKeyTable } from '../src/tuf/sealed-key-table.js';
import { TufKeyring } from '../src/tuf/tuf-keyring.js';
import { TufMetadataRepository } from '../src/tuf/tuf-metadata.repository.js';

class RolledBack extends Error {}

/**
 * Two replicas of the updates service on the software provider, one
 * database. Replica A makes a tenant's online keys and signs with them in a
 * transaction that rolls back; replica B then makes the tenant's keys for
 * real. What A signs afterwards must verify with the key the database (and so
 * the tenant's root) lists: B's, not the one A held in memory from the
 * rolled-back transaction.
 */
describe(`${TufKeyring.name} after a rolled-back transaction`, () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  const vault = new KeyVault(randomBytes(32));
  const logger = createLogger('updates', 'silent');

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await openDatabase({ ...updatesDatabase, url: db.url, poolSize: 4 }, logger);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  const replica = () => {
    const repository = new TufMetadataRepository(dataSource);
    const keyring = new TufKeyring(new SoftwareKeyProvider(vault, new SealedKeyTable(dataSource)), repository);
    return { repository, keyring, transactions: new Transactions(dataSource) };
  };
  const timestampBy = (keyring: TufKeyring) =>
    keyring.signer('acme', 'timestamp').then((signer) => signTimestamp(1, new Date(Date.now() + 3_600_000), Buffer.from('{}'), 1, signer));

  it('signs with the key the database lists, not one it held from a transaction that rolled back', async () => {
    const a = replica();
    const b = replica();
    const rolledBack = a.transactions.run(async (tx) => {
      await a.keyring.makeOnlineKeys('acme', tx);
      // Signed inside the transaction: the key is opened (and, before, cached) and checked against its uncommitted row.
      const signer = await a.keyring.signer('acme', 'timestamp', tx);
      await signTimestamp(1, new Date(Date.now() + 3_600_000), Buffer.from('{}'), 1, signer);
      throw new RolledBack();
    });
    await expect(rolledBack).rejects.toBeInstanceOf(RolledBack);
    expect(await a.keyring.hasOnlineKeys('acme')).toBe(false);

    await b.transactions.run((tx) => b.keyring.makeOnlineKeys('acme', tx));
    const [listed] = await b.repository.activeKeys('acme', 'timestamp');
    const listedKey = tufKeyFromJson(listed!.keyId, listed!.tufKey);

    const byB = await timestampBy(b.keyring);
    expect(() => listedKey.verifySignature(byB)).not.toThrow();
    const byA = await timestampBy(a.keyring);
    expect(() => listedKey.verifySignature(byA)).not.toThrow();
  });
});
