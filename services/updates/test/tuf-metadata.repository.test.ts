import { createLogger, openDatabase } from '@rampart/service-kit';
import { createTestDatabase, type TestDatabase } from '@rampart/testing';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updatesDatabase } from '../src/migrations/index.js';
import { Transactions } from '../src/persistence/transactions.js';
import { TufMetadataRepository, type SigningRole } from '../src/tuf/tuf-metadata.repository.js';

const HOUR = 3_600_000;

/** The SQL of the tenants' TUF repositories, on real PostgreSQL. */
describe(TufMetadataRepository.name, () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let repository: TufMetadataRepository;
  let transactions: Transactions;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await openDatabase({ ...updatesDatabase, url: db.url, poolSize: 4 }, createLogger('updates', 'silent'));
    repository = new TufMetadataRepository(dataSource);
    transactions = new Transactions(dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  const save = (tenantId: string, role: SigningRole, version: number, expiresInHours: number) =>
    transactions.run((tx) =>
      repository.saveMetadata(tenantId, role, version, Buffer.from(`${role} ${version}`), new Date(Date.now() + expiresInHours * HOUR), tx),
    );

  it('names the tenants whose newest timestamp, targets or snapshot expires before the cut-offs, judging only newest versions', async () => {
    // renewed: an old timestamp expiring, but its newest does not.
    await save('renewed', 'timestamp', 1, 1);
    await save('renewed', 'timestamp', 2, 100);
    await save('stale-timestamp', 'timestamp', 1, 1);
    await save('stale-targets', 'targets', 1, 10);
    await save('stale-targets', 'timestamp', 1, 100);
    // A root about to expire is not the re-signer's to renew.
    await save('old-root', 'root', 1, 1);
    const due = await repository.tenantsExpiring(new Date(Date.now() + 5 * HOUR), new Date(Date.now() + 24 * HOUR));
    expect(due.sort()).toEqual(['stale-targets', 'stale-timestamp']);
  });

  it('serves the newest body of a role, a root by version, and prunes old online metadata but never a root', async () => {
    for (const version of [1, 2, 3]) {
      await save('serve', 'root', version, 1000);
      await save('serve', 'timestamp', version, 1000);
    }
    expect(await repository.newestRoot('serve')).toBe('root 3');
    expect(await repository.body('serve', 'root', 2)).toBe('root 2');
    expect(await repository.body('serve', 'timestamp')).toBe('timestamp 3');
    expect(await repository.body('serve', 'targets')).toBeUndefined();
    await transactions.run((tx) => repository.pruneOnline('serve', 3, tx));
    expect(await repository.body('serve', 'timestamp', 2)).toBeUndefined();
    expect(await repository.body('serve', 'timestamp', 3)).toBe('timestamp 3');
    expect(await repository.body('serve', 'root', 1)).toBe('root 1');
    expect(await repository.latestVersion('serve', 'timestamp')).toBe(3);
    expect(await repository.latestVersion('serve', 'snapshot')).toBeUndefined();
  });

  it("gives a role's keys that are not retired, oldest first; retiring root keys leaves the online roles' keys", async () => {
    const key = (id: string) => ({
      keyId: id,
      label: `rampart/keys/tuf-${id}`,
      provider: 'pkcs11' as const,
      tufKey: { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: `${id}-public` } },
    });
    await transactions.run(async (tx) => {
      await repository.saveKey(key('root-a'), 'keys', 'root', tx);
      await repository.saveKey(key('targets-a'), 'keys', 'targets', tx);
    });
    await transactions.run((tx) => repository.saveKey(key('root-b'), 'keys', 'root', tx));
    const active = async (role: SigningRole) => (await repository.activeKeys('keys', role)).map((k) => k.keyId);
    expect(await active('root')).toEqual(['root-a', 'root-b']);
    expect(await repository.activeKeys('keys', 'targets')).toEqual([key('targets-a')]);
    await transactions.run((tx) => repository.retireRootKeys('keys', tx));
    await transactions.run((tx) => repository.saveKey(key('root-c'), 'keys', 'root', tx));
    expect(await active('root')).toEqual(['root-c']);
    expect(await active('targets')).toEqual(['targets-a']);
    expect(await repository.activeKeys('other-tenant', 'root')).toEqual([]);
  });

  it('keeps one director answer per device, replaced by the next, and locks it while it is read to be replaced', async () => {
    const device = 'd'.repeat(64);
    const expires = new Date(Date.now() + HOUR);
    const write = (version: number) =>
      transactions.run((tx) =>
        repository.saveDirectorTargets(
          { deviceId: device, tenantId: 'acme', version, digest: `digest-${version}`, body: Buffer.from(`v${version}`), expires },
          tx,
        ),
      );
    expect(await transactions.run((tx) => repository.directorTargetsForUpdate(device, tx))).toBeUndefined();
    await write(1);
    await write(2);
    expect(await transactions.run((tx) => repository.directorTargetsForUpdate(device, tx))).toMatchObject({
      version: 2,
      digest: 'digest-2',
      body: 'v2',
    });
    // FOR UPDATE: a second reader waits until the first transaction ends.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let read!: () => void;
    const first = new Promise<void>((resolve) => (read = resolve));
    const holder = transactions.run(async (tx) => {
      await repository.directorTargetsForUpdate(device, tx);
      read();
      await held;
    });
    await first;
    const order: string[] = [];
    const waiter = transactions.run((tx) => repository.directorTargetsForUpdate(device, tx)).then(() => order.push('second read'));
    // The holder commits only after the waiter's query is on the server, blocked behind its lock.
    await expect.poll(async () => (await lockWaiters()) > 0).toBe(true);
    order.push('first done');
    release();
    await Promise.all([holder, waiter]);
    expect(order).toEqual(['first done', 'second read']);
  });

  async function lockWaiters(): Promise<number> {
    const rows: Array<{ n: string }> = await dataSource.query(
      `SELECT count(*)::text AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`,
    );
    return Number(rows[0]!.n);
  }
});
