import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The OS version each device last attested with: the fleet's version gauge counts devices by it. */
export class DeviceOsVersion1732900000004 implements MigrationInterface {
  name = 'DeviceOsVersion1732900000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE attestation.devices ADD COLUMN os_version text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE attestation.devices DROP COLUMN os_version`);
  }
}
