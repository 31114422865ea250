import { createTestDatabase, queryDatabase, type TestDatabase } from '@rampart/testing';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, openDatabase } from '../src/index.js';

class CreateThings1700000000000 implements MigrationInterface {
  name = 'CreateThings1700000000000';
  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE TABLE kit.things (id int PRIMARY KEY)');
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE kit.things');
  }
}

describe(openDatabase.name, () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('lets replicas that start together migrate once, without racing', async () => {
    const options = { url: db.url, schema: 'kit', migrations: [CreateThings1700000000000], applicationName: 'test', poolSize: 2 };
    const logger = createLogger('test', 'silent');
    const sources = await Promise.all(Array.from({ length: 4 }, () => openDatabase(options, logger)));
    await Promise.all(sources.map((s) => s.destroy()));
    const applied = await queryDatabase<{ name: string }>(db.url, 'SELECT name FROM kit.migrations');
    expect(applied.map((r) => r.name)).toEqual(['CreateThings1700000000000']);
  });
});
