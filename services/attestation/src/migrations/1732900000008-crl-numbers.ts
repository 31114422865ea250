import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The latest CRL of each CA (the platform root, and each tenant CA by id)
 * with its CRL Number: every replica serves the same list, and the number
 * only ever goes up (RFC 5280 §5.2.3), across re-issues and replicas.
 */
export class CrlNumbers1732900000008 implements MigrationInterface {
  name = 'CrlNumbers1732900000008';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE attestation.crls (
      issuer text PRIMARY KEY,
      crl_number bigint NOT NULL CHECK (crl_number > 0),
      revoked_digest text NOT NULL,
      pem text NOT NULL,
      this_update timestamptz NOT NULL
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE attestation.crls`);
  }
}
