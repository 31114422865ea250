import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Stability: operating time per device, hour and component version (from
 * uptime heartbeats), and the heartbeats already counted (so a redelivered
 * one adds nothing). Buckets also learn when a device was last seen in them,
 * so retention can let go of buckets nobody hits any more.
 */
export class Stability1733000000001 implements MigrationInterface {
  name = 'Stability1733000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE failures.device_hours (
        device_id    text NOT NULL,
        hour         timestamptz NOT NULL,
        component    text NOT NULL,
        version      text NOT NULL,
        tenant_id    text,
        operating_ms bigint NOT NULL CHECK (operating_ms BETWEEN 0 AND 3600000),
        PRIMARY KEY (device_id, hour, component, version))`);
    await q.query(`CREATE INDEX device_hours_cohort ON failures.device_hours (tenant_id, component, hour)`);
    await q.query(`CREATE INDEX device_hours_hour ON failures.device_hours (hour)`);
    await q.query(`
      CREATE TABLE failures.heartbeats (
        device_id   text NOT NULL,
        seq         bigint NOT NULL,
        received_at timestamptz NOT NULL,
        PRIMARY KEY (device_id, seq))`);
    await q.query(`CREATE INDEX heartbeats_received ON failures.heartbeats (received_at)`);
    await q.query(`CREATE INDEX reports_cohort ON failures.reports (tenant_id, component, occurred_at)`);
    await q.query(`CREATE INDEX buckets_last_seen ON failures.buckets (last_seen)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX failures.buckets_last_seen`);
    await q.query(`DROP INDEX failures.reports_cohort`);
    await q.query(`DROP TABLE failures.heartbeats, failures.device_hours`);
  }
}
