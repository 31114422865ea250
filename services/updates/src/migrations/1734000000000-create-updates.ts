import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Images (immutable, content-addressed, their bytes in chunks so any replica
 * serves them), each tenant's TUF signing keys (sealed) and signed metadata
 * (every version kept), and each device's director targets.
 */
export class CreateUpdates1734000000000 implements MigrationInterface {
  name = 'CreateUpdates1734000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE updates.images (
        sha256           text PRIMARY KEY,
        tenant_id        text NOT NULL,
        component        text NOT NULL,
        version          text NOT NULL,
        security_version integer NOT NULL,
        hardware         text NOT NULL,
        size             bigint NOT NULL,
        measurement      text NOT NULL,
        signer_key_id    text NOT NULL,
        status           text NOT NULL CHECK (status IN ('uploaded', 'released', 'revoked')),
        created_at       timestamptz NOT NULL DEFAULT now(),
        released_at      timestamptz,
        revoked_at       timestamptz,
        UNIQUE (tenant_id, component, version))`);
    await q.query(`
      CREATE TABLE updates.image_chunks (
        image_sha256 text NOT NULL REFERENCES updates.images (sha256),
        seq          integer NOT NULL,
        data         bytea NOT NULL,
        PRIMARY KEY (image_sha256, seq))`);
    await q.query(`
      CREATE TABLE updates.signing_keys (
        key_id      text PRIMARY KEY,
        tenant_id   text NOT NULL,
        role        text NOT NULL,
        public_hex  text NOT NULL,
        sealed      bytea NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        retired_at  timestamptz)`);
    await q.query(`CREATE INDEX signing_keys_tenant ON updates.signing_keys (tenant_id, role) WHERE retired_at IS NULL`);
    await q.query(`
      CREATE TABLE updates.metadata (
        tenant_id  text NOT NULL,
        role       text NOT NULL,
        version    integer NOT NULL,
        body       text NOT NULL,
        expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, role, version))`);
    await q.query(`
      CREATE TABLE updates.director_targets (
        device_id  text PRIMARY KEY,
        tenant_id  text NOT NULL,
        version    integer NOT NULL,
        digest     text NOT NULL,
        body       text NOT NULL,
        expires_at timestamptz NOT NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE updates.director_targets, updates.metadata, updates.signing_keys, updates.image_chunks, updates.images`);
  }
}
