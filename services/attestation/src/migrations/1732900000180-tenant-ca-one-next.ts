import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * At most one successor ('next') CA per tenant, as there is at most one
 * current. Before rotations were serialised, two replicas could each make a
 * successor; activating then retired the current CA and failed to make both
 * current, leaving the tenant with none. This keeps the earliest successor
 * of each tenant (the others never issued anything: they are retired), makes
 * it current where the tenant has no current CA, then adds the index.
 */
export class TenantCaOneNext1732900000180 implements MigrationInterface {
  name = 'TenantCaOneNext1732900000180';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      UPDATE attestation.tenant_cas SET status = 'retired', retired_at = now()
       WHERE status = 'next'
         AND id NOT IN (SELECT DISTINCT ON (tenant_id) id FROM attestation.tenant_cas
                         WHERE status = 'next' ORDER BY tenant_id, not_before, id)`);
    await q.query(`
      UPDATE attestation.tenant_cas AS successor SET status = 'current'
       WHERE successor.status = 'next'
         AND NOT EXISTS (SELECT 1 FROM attestation.tenant_cas AS c WHERE c.tenant_id = successor.tenant_id AND c.status = 'current')`);
    await q.query(`CREATE UNIQUE INDEX tenant_cas_one_next ON attestation.tenant_cas (tenant_id) WHERE status = 'next'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX attestation.tenant_cas_one_next`);
  }
}
