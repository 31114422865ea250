import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Nonces are sealed (HMAC) and need no row when issued; only spent ones are
 * remembered, until they expire, so a replay is refused on any replica.
 * UNLOGGED: after a crash the table is empty, and a nonce issued before the
 * crash could be replayed once within its minute — the evidence still has
 * to be signed by the device's own endorsed key, so nothing is gained.
 */
export class SpentNonces1732900000003 implements MigrationInterface {
  name = 'SpentNonces1732900000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE attestation.nonces`);
    await q.query(`CREATE UNLOGGED TABLE attestation.spent_nonces (nonce text PRIMARY KEY, expires_at timestamptz NOT NULL)`);
    await q.query(`CREATE INDEX spent_nonces_expiry ON attestation.spent_nonces (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE attestation.spent_nonces`);
    await q.query(`
      CREATE UNLOGGED TABLE attestation.nonces (
        nonce text PRIMARY KEY, device_id text NOT NULL, expires_at timestamptz NOT NULL, used_at timestamptz)`);
    await q.query(`CREATE INDEX nonces_expiry ON attestation.nonces (expires_at)`);
  }
}
