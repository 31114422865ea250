import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * TUF signing keys move behind the key provider. `signing_keys` now says
 * which key each role uses (its provider label and its TUF key object, public
 * only) and where it lives (`software` or `pkcs11`); the software provider's
 * sealed keys go to `sealed_keys`, by label. A row sealed the old way (with
 * tenant/role as associated data) keeps its bytes in `legacy_sealed` until
 * the service, which holds the key-encryption key, re-seals it under its
 * label at start-up; a pkcs11 row never holds key bytes (the check says so).
 */
export class TufKeysInProvider1734000000006 implements MigrationInterface {
  name = 'TufKeysInProvider1734000000006';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE updates.signing_keys RENAME COLUMN sealed TO legacy_sealed`);
    await q.query(`ALTER TABLE updates.signing_keys ALTER COLUMN legacy_sealed DROP NOT NULL`);
    await q.query(`ALTER TABLE updates.signing_keys ADD COLUMN label text UNIQUE`);
    await q.query(`ALTER TABLE updates.signing_keys ADD COLUMN provider text NOT NULL DEFAULT 'software'`);
    await q.query(`ALTER TABLE updates.signing_keys ADD COLUMN tuf_key jsonb`);
    await q.query(
      `UPDATE updates.signing_keys
          SET tuf_key = jsonb_build_object('keytype', 'ed25519', 'scheme', 'ed25519', 'keyval', jsonb_build_object('public', public_hex))`,
    );
    await q.query(`ALTER TABLE updates.signing_keys ALTER COLUMN tuf_key SET NOT NULL, ALTER COLUMN provider DROP DEFAULT`);
    await q.query(`ALTER TABLE updates.signing_keys DROP COLUMN public_hex`);
    await q.query(`
      ALTER TABLE updates.signing_keys
        ADD CONSTRAINT signing_keys_where CHECK (
          provider IN ('software', 'pkcs11')
          AND (label IS NOT NULL OR legacy_sealed IS NOT NULL)
          AND (provider = 'software' OR legacy_sealed IS NULL))`);
    await q.query(`
      CREATE TABLE updates.sealed_keys (
        label      text PRIMARY KEY,
        sealed     bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now())`);
  }

  down(_q: QueryRunner): Promise<void> {
    // Keys made in a token, or re-sealed under their label, cannot go back to the old form.
    return Promise.reject(new Error('TufKeysInProvider1734000000006 cannot be undone'));
  }
}
