import type { MigrationInterface, QueryRunner } from 'typeorm';

/** API tokens may be given a lifetime at creation; an expired one is refused like a revoked one. */
export class TokenExpiry1732900000005 implements MigrationInterface {
  name = 'TokenExpiry1732900000005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE attestation.api_tokens ADD COLUMN expires_at timestamptz`);
    await q.query(`CREATE INDEX api_tokens_tenant ON attestation.api_tokens (tenant_id, created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX attestation.api_tokens_tenant`);
    await q.query(`ALTER TABLE attestation.api_tokens DROP COLUMN expires_at`);
  }
}
