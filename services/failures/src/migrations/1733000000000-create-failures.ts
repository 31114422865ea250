import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Failure reports, their buckets, the devices seen per bucket, and what rate limiting dropped. */
export class CreateFailures1733000000000 implements MigrationInterface {
  name = 'CreateFailures1733000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE failures.reports (
        report_key  text PRIMARY KEY,
        device_id   text NOT NULL,
        tenant_id   text,
        kind        text NOT NULL,
        component   text NOT NULL,
        version     text NOT NULL,
        exit_code   integer,
        signal      text,
        message     text NOT NULL,
        frames      jsonb NOT NULL,
        uptime_ms   bigint,
        detail      jsonb,
        occurred_at timestamptz NOT NULL,
        received_at timestamptz NOT NULL,
        bucket      text NOT NULL)`);
    await q.query(`CREATE INDEX reports_tenant_time ON failures.reports (tenant_id, occurred_at)`);
    await q.query(`CREATE INDEX reports_bucket_time ON failures.reports (bucket, occurred_at)`);
    await q.query(`CREATE INDEX reports_device_time ON failures.reports (device_id, occurred_at)`);
    await q.query(`
      CREATE TABLE failures.buckets (
        signature  text PRIMARY KEY,
        tenant_id  text,
        kind       text NOT NULL,
        component  text NOT NULL,
        version    text NOT NULL,
        exit_code  integer,
        signal     text,
        title      text NOT NULL,
        first_seen timestamptz NOT NULL,
        last_seen  timestamptz NOT NULL,
        reports    bigint NOT NULL,
        devices    bigint NOT NULL)`);
    await q.query(`CREATE INDEX buckets_tenant ON failures.buckets (tenant_id, last_seen DESC)`);
    await q.query(
      `CREATE TABLE failures.bucket_devices (signature text NOT NULL, device_id text NOT NULL, PRIMARY KEY (signature, device_id))`,
    );
    await q.query(
      `CREATE TABLE failures.dropped (device_id text PRIMARY KEY, dropped bigint NOT NULL, last_dropped_at timestamptz NOT NULL)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE failures.dropped, failures.bucket_devices, failures.buckets, failures.reports`);
  }
}
