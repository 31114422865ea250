import { randomBytes } from 'node:crypto';
import { createLogger, openDatabase } from '@rampart/service-kit';
import { createTestDatabase, type TestDatabase } from '@rampart/testing';
import { KeyExistsError, KeyVault, SoftwareKeyProvider, keyLabel } from '@rampart/trust';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updatesDatabase } from '../src/migrations/index.js';
import { Transactions } from '../src/persistence/transactions.js';
import { SealedKeyTable } from '../src/tuf/sealed-key-table.js';

/**
 * The software provider's keys in `updates.sealed_keys`, on real PostgreSQL
 * with a pool of one connection (as the embedded PGlite has): made and read
 * inside a transaction they join it, so nothing waits for a second
 * connection, and a key made by a transaction that rolls back is not kept.
 */
describe(SealedKeyTable.name, () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let transactions: Transactions;
  let provider: SoftwareKeyProvider;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await openDatabase({ ...updatesDatabase, url: db.url, poolSize: 1 }, createLogger('updates', 'silent'));
    transactions = new Transactions(dataSource);
    provider = new SoftwareKeyProvider(new KeyVault(randomBytes(32)), new SealedKeyTable(dataSource));
  });

  afterAll(async () => {
    await provider?.close();
    await dataSource?.destroy();
    await db?.drop();
  });

  it('joins the transaction it is used in: one connection suffices, and a rolled-back key is gone', async () => {
    const kept = keyLabel({ tenant: 'acme' }, 'tuf-targets');
    const signature = await transactions.run(async () => {
      const key = await provider.generate(kept, 'ed25519');
      return provider.sign(key, Buffer.from('signed inside the transaction'));
    });
    expect(signature).toHaveLength(64);
    expect(await provider.find(kept)).toEqual({ label: kept, algorithm: 'ed25519' });

    const dropped = keyLabel({ tenant: 'acme' }, 'tuf-snapshot');
    await expect(
      transactions.run(async () => {
        await provider.publicKey((await provider.generate(dropped, 'ecdsa-p256')).label);
        throw new Error('the rest of the work failed');
      }),
    ).rejects.toThrow('the rest of the work failed');
    expect(await provider.find(dropped)).toBeUndefined();
    // Made again, as a retry would: no key under the label stands in the way.
    expect(await provider.generate(dropped, 'ecdsa-p256')).toEqual({ label: dropped, algorithm: 'ecdsa-p256' });
    await expect(provider.generate(dropped, 'ecdsa-p256')).rejects.toBeInstanceOf(KeyExistsError);
  }, 20_000);

  it('destroys a key (its row), and answers false for a label with none', async () => {
    const label = keyLabel({ tenant: 'acme' }, 'tuf-orphan');
    await provider.generate(label, 'ecdsa-p256');
    expect(await provider.destroy(label)).toBe(true);
    expect(await provider.find(label)).toBeUndefined();
    expect(await provider.destroy(label)).toBe(false);
  });
});
