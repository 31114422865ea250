import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An image is identified by its tenant and its SHA-256, no longer by the
 * SHA-256 alone: two tenants may ship the same bytes, and an upload no longer
 * tells a tenant that another holds them. The bytes stay content-addressed
 * (chunks keyed by SHA-256, stored once for every tenant that has them), so
 * the chunks lose their reference to a single image row. Stored images and
 * chunks are kept as they are.
 */
export class ImagesPerTenant1734000000004 implements MigrationInterface {
  name = 'ImagesPerTenant1734000000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE updates.image_chunks DROP CONSTRAINT image_chunks_image_sha256_fkey`);
    await q.query(`ALTER TABLE updates.images DROP CONSTRAINT images_pkey`);
    await q.query(`ALTER TABLE updates.images ADD PRIMARY KEY (tenant_id, sha256)`);
  }

  /** Fails, keeping everything, if two tenants hold the same bytes by then. */
  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE updates.images DROP CONSTRAINT images_pkey`);
    await q.query(`ALTER TABLE updates.images ADD PRIMARY KEY (sha256)`);
    await q.query(
      `ALTER TABLE updates.image_chunks ADD CONSTRAINT image_chunks_image_sha256_fkey FOREIGN KEY (image_sha256) REFERENCES updates.images (sha256)`,
    );
  }
}
