import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * OS feeds: a released OS image may be put on the retail or the
 * early-evaluation (retail-eval) feed; devices in a group on that feed are
 * offered the feed's newest OS for their hardware whenever their
 * deployment does not name an OS itself.
 */
export class OsFeeds1734000000002 implements MigrationInterface {
  name = 'OsFeeds1734000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE updates.images
        ADD COLUMN os_feed text CHECK (os_feed IN ('retail', 'retail-eval')),
        ADD COLUMN feed_at timestamptz,
        ADD CONSTRAINT images_feed_is_os CHECK (os_feed IS NULL OR component = 'os')`);
    await q.query(`
      CREATE INDEX images_on_feed ON updates.images (tenant_id, hardware, security_version DESC, feed_at DESC)
       WHERE os_feed IS NOT NULL AND status = 'released'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX updates.images_on_feed`);
    await q.query(`ALTER TABLE updates.images DROP CONSTRAINT images_feed_is_os, DROP COLUMN feed_at, DROP COLUMN os_feed`);
  }
}
