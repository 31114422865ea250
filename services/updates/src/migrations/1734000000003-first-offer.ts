import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When a device was first offered a deployment. `notified_at` moves with
 * every re-offer (it times out silent devices); the 24-hour bound on
 * deferral counts from the first offer, or a device deferring again and
 * again would never update.
 */
export class FirstOffer1734000000003 implements MigrationInterface {
  name = 'FirstOffer1734000000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE updates.deployment_devices ADD COLUMN first_offered_at timestamptz`);
    await q.query(`UPDATE updates.deployment_devices SET first_offered_at = notified_at WHERE notified_at IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE updates.deployment_devices DROP COLUMN first_offered_at`);
  }
}
