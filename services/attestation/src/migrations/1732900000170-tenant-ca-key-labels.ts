import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tenant CA keys may live in a key provider (a PKCS#11 token): such a row
 * holds the key's label and no key bytes, a software row its sealed key and
 * no label, never both or neither. And each row records the certificate of
 * the CA that signed it (the root in two tiers, the issuing CA in three), so
 * its chain and the trust bundles keep that issuer after a ceremony replaces
 * it, and the service can tell which tenant CAs to rotate promptly then.
 */
export class TenantCaKeyLabels1732900000170 implements MigrationInterface {
  name = 'TenantCaKeyLabels1732900000170';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE attestation.tenant_cas ALTER COLUMN encrypted_key DROP NOT NULL`);
    await q.query(`ALTER TABLE attestation.tenant_cas ADD COLUMN key_label text UNIQUE`);
    await q.query(`ALTER TABLE attestation.tenant_cas ADD COLUMN issuer_certificate_pem text`);
    await q.query(
      `ALTER TABLE attestation.tenant_cas ADD CONSTRAINT tenant_cas_one_key CHECK ((encrypted_key IS NULL) <> (key_label IS NULL))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE attestation.tenant_cas DROP CONSTRAINT tenant_cas_one_key`);
    await q.query(`ALTER TABLE attestation.tenant_cas DROP COLUMN issuer_certificate_pem`);
    await q.query(`ALTER TABLE attestation.tenant_cas DROP COLUMN key_label`);
    await q.query(`ALTER TABLE attestation.tenant_cas ALTER COLUMN encrypted_key SET NOT NULL`);
  }
}
