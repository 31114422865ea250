import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The tenant each device's readings belong to (the one its operational
 * certificate names), so the REST API shows a tenant its own devices only.
 * Kept per device, not per reading: every query reaches readings through the
 * device. Devices stored before this have no tenant until their next reading
 * (seen by no tenant meanwhile); their readings are kept.
 */
export class DeviceTenants1732800000001 implements MigrationInterface {
  name = 'DeviceTenants1732800000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE telemetry.device_last_seen ADD COLUMN tenant_id text`);
    await q.query(`CREATE INDEX device_last_seen_tenant ON telemetry.device_last_seen (tenant_id, last_seen DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX telemetry.device_last_seen_tenant`);
    await q.query(`ALTER TABLE telemetry.device_last_seen DROP COLUMN tenant_id`);
  }
}
