import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Tenants and access, the device registry, nonces, policy, verdicts, CAs, issued certificates, audit. */
export class CreateAttestation1732900000000 implements MigrationInterface {
  name = 'CreateAttestation1732900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE attestation.tenants (id text PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
    );
    await q.query(`
      CREATE TABLE attestation.api_tokens (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id text NOT NULL REFERENCES attestation.tenants(id),
        role text NOT NULL CHECK (role IN ('Administrator', 'Contributor', 'Reader')),
        token_hash text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz)`);
    await q.query(`
      CREATE TABLE attestation.devices (
        id text PRIMARY KEY,
        first_seen_at timestamptz,
        tenant_id text REFERENCES attestation.tenants(id),
        claimed_at timestamptz,
        revoked boolean NOT NULL DEFAULT false,
        revoked_reason text,
        last_attested_at timestamptz,
        last_pass boolean)`);
    await q.query(`CREATE INDEX devices_tenant ON attestation.devices (tenant_id)`);
    await q.query(`
      CREATE TABLE attestation.nonces (
        nonce text PRIMARY KEY,
        device_id text NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz)`);
    await q.query(`CREATE INDEX nonces_expiry ON attestation.nonces (expires_at)`);
    await q.query(`
      CREATE TABLE attestation.measurements (
        stage text NOT NULL,
        sha256 text NOT NULL,
        status text NOT NULL CHECK (status IN ('released', 'revoked')),
        image_version text,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (stage, sha256))`);
    await q.query(
      `CREATE TABLE attestation.security_floors (component text PRIMARY KEY, min_version integer NOT NULL CHECK (min_version >= 0))`,
    );
    await q.query(`
      CREATE TABLE attestation.verdicts (
        id bigserial PRIMARY KEY,
        device_id text,
        tenant_id text,
        at timestamptz NOT NULL DEFAULT now(),
        pass boolean NOT NULL,
        reasons text[] NOT NULL)`);
    await q.query(`CREATE INDEX verdicts_tenant_at ON attestation.verdicts (tenant_id, at DESC)`);
    await q.query(`
      CREATE TABLE attestation.tenant_cas (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id text NOT NULL REFERENCES attestation.tenants(id),
        certificate_pem text NOT NULL,
        encrypted_key bytea NOT NULL,
        not_before timestamptz NOT NULL,
        not_after timestamptz NOT NULL,
        status text NOT NULL CHECK (status IN ('current', 'next', 'retired')))`);
    await q.query(`CREATE UNIQUE INDEX tenant_cas_one_current ON attestation.tenant_cas (tenant_id) WHERE status = 'current'`);
    await q.query(`
      CREATE TABLE attestation.issued_certificates (
        serial text PRIMARY KEY,
        device_id text NOT NULL,
        tenant_id text NOT NULL,
        ca_id uuid NOT NULL REFERENCES attestation.tenant_cas(id),
        not_before timestamptz NOT NULL,
        not_after timestamptz NOT NULL,
        revoked_at timestamptz)`);
    await q.query(`CREATE INDEX issued_device ON attestation.issued_certificates (device_id)`);
    await q.query(`
      CREATE TABLE attestation.audit_log (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        tenant_id text,
        actor text NOT NULL,
        action text NOT NULL,
        subject text,
        detail jsonb NOT NULL DEFAULT '{}')`);
    await q.query(`CREATE INDEX audit_tenant_at ON attestation.audit_log (tenant_id, at DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'audit_log',
      'issued_certificates',
      'tenant_cas',
      'verdicts',
      'security_floors',
      'measurements',
      'nonces',
      'devices',
      'api_tokens',
      'tenants',
    ]) {
      await q.query(`DROP TABLE attestation.${table}`);
    }
  }
}
