import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The kind of evidence each verdict judged (`EVIDENCE_KINDS`): operators see which devices attest with PSA
 * tokens and which with TPM quotes. Null where the evidence could not be read, and for verdicts recorded before.
 */
export class VerdictEvidenceKind1732900000190 implements MigrationInterface {
  name = 'VerdictEvidenceKind1732900000190';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE attestation.verdicts ADD COLUMN evidence_kind text CHECK (evidence_kind IN ('psa-token', 'tpm2-quote'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE attestation.verdicts DROP COLUMN evidence_kind`);
  }
}
