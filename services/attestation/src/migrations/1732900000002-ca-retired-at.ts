import type { MigrationInterface, QueryRunner } from 'typeorm';

/** When a tenant CA stopped issuing: it stays in the trust bundle while its last certificates can still be valid. */
export class CaRetiredAt1732900000002 implements MigrationInterface {
  name = 'CaRetiredAt1732900000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE attestation.tenant_cas ADD COLUMN retired_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE attestation.tenant_cas DROP COLUMN retired_at`);
  }
}
