import type { MigrationInterface, QueryRunner } from 'typeorm';

/** When a bucket's last spike alert went out: replicas claim an alert here, so only one sends it. */
export class SpikeClaims1733000000002 implements MigrationInterface {
  name = 'SpikeClaims1733000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE failures.buckets ADD COLUMN spike_alerted_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE failures.buckets DROP COLUMN spike_alerted_at`);
  }
}
