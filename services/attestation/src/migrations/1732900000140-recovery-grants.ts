import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Recovery grants: a device refused attestation only because its OS is outdated may fetch a newer OS on its
 * IDevID for a while. One row per device, written with the refusal and removed by its next pass.
 */
export class RecoveryGrants1732900000140 implements MigrationInterface {
  name = 'RecoveryGrants1732900000140';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE attestation.recovery_grants (
        device_id text PRIMARY KEY REFERENCES attestation.devices (id),
        tenant_id text NOT NULL,
        os_security_version integer NOT NULL CHECK (os_security_version >= 0),
        os_measurement text NOT NULL,
        granted_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE attestation.recovery_grants`);
  }
}
