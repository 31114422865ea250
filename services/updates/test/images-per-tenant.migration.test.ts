import { createLogger, openDatabase } from '@rampart/service-kit';
import { createTestDatabase, queryDatabase, type TestDatabase } from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImagesPerTenant1734000000004 } from '../src/migrations/1734000000004-images-per-tenant.js';
import { updatesDatabase, updatesMigrations } from '../src/migrations/index.js';

const SHA = 'ab'.repeat(32);

/** The migration to per-tenant image identity keeps what is stored and lets another tenant hold the same bytes. */
describe('ImagesPerTenant migration', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    const logger = createLogger('updates', 'silent');
    const before = await openDatabase(
      { ...updatesDatabase, url: db.url, migrations: updatesMigrations.slice(0, updatesMigrations.indexOf(ImagesPerTenant1734000000004)) },
      logger,
    );
    await before.query(
      `INSERT INTO updates.images (sha256, tenant_id, component, version, security_version, hardware, size, measurement, signer_key_id, status)
       VALUES ($1, 'acme', 'os', '1.0.0', 1, 'hw', 3, 'm', 'k', 'released')`,
      [SHA],
    );
    await before.query(`INSERT INTO updates.image_chunks (image_sha256, seq, data) VALUES ($1, 0, '\\x010203')`, [SHA]);
    await before.destroy();
    const after = await openDatabase({ ...updatesDatabase, url: db.url }, logger);
    await after.destroy();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('keeps every image and chunk stored before it', async () => {
    expect(await queryDatabase(db.url, `SELECT tenant_id, status FROM updates.images WHERE sha256 = $1`, [SHA])).toEqual([
      { tenant_id: 'acme', status: 'released' },
    ]);
    const chunks = await queryDatabase<{ data: Buffer }>(db.url, `SELECT data FROM updates.image_chunks WHERE image_sha256 = $1`, [SHA]);
    expect(chunks.map((c) => [...c.data])).toEqual([[1, 2, 3]]);
  });

  it('lets another tenant hold the same bytes, and one tenant still only once', async () => {
    const insert = (tenant: string) =>
      queryDatabase(
        db.url,
        `INSERT INTO updates.images (sha256, tenant_id, component, version, security_version, hardware, size, measurement, signer_key_id, status)
         VALUES ($1, $2, 'os', '1.0.0', 1, 'hw', 3, 'm', 'k', 'uploaded')`,
        [SHA, tenant],
      );
    await insert('globex');
    await expect(insert('acme')).rejects.toThrow(/duplicate key/);
  });
});
