import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Nonces live for a minute; after a crash a device simply asks for a new
 * one. Keeping them out of the write-ahead log (UNLOGGED) takes two WAL
 * flushes off every attestation (measured: bench/attestation-throughput.js).
 */
export class EphemeralNonces1732900000001 implements MigrationInterface {
  name = 'EphemeralNonces1732900000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE attestation.nonces SET UNLOGGED`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE attestation.nonces SET LOGGED`);
  }
}
