import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Narrow time-series table, one row per (reading, metric), partitioned by
 * day on the device timestamp so retention is a DROP, not a DELETE.
 * The primary key (device, metric, ts, seq) serves per-device range queries
 * and makes a redelivered reading a no-op (ON CONFLICT DO NOTHING).
 */
export class CreateReadings1732800000000 implements MigrationInterface {
  name = 'CreateReadings1732800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE telemetry.readings (
        device_id   text             NOT NULL,
        metric      text             NOT NULL,
        ts          timestamptz      NOT NULL,
        seq         bigint           NOT NULL,
        value       double precision NOT NULL,
        received_at timestamptz      NOT NULL,
        PRIMARY KEY (device_id, metric, ts, seq)
      ) PARTITION BY RANGE (ts)`);
    await q.query(`CREATE INDEX readings_metric_ts ON telemetry.readings (metric, ts)`);
    await q.query(`
      CREATE TABLE telemetry.device_last_seen (
        device_id  text        PRIMARY KEY,
        last_seen  timestamptz NOT NULL,
        last_seq   bigint      NOT NULL,
        readings   bigint      NOT NULL,
        rows       bigint      NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE telemetry.device_last_seen`);
    await q.query(`DROP TABLE telemetry.readings`);
  }
}
