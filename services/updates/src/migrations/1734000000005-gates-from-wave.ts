import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The first wave whose devices the install and attestation gates judge. A
 * person who resumes a deployment its gates paused accepts the shortfall of
 * the waves open then; judged again, it would pause the rollout at the next
 * tick, so resuming moves this past them.
 */
export class GatesFromWave1734000000005 implements MigrationInterface {
  name = 'GatesFromWave1734000000005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE updates.deployments ADD COLUMN gates_from_wave integer NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE updates.deployments DROP COLUMN gates_from_wave`);
  }
}
