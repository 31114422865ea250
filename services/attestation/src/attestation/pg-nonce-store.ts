import { randomBytes } from 'node:crypto';
import { AttestationReason, NONCE_BYTES } from '@rampart/contracts';
import type { AttestationRepository } from './attestation.repository.js';
import type { NonceOutcome, NonceStore } from './nonce-store.js';

/**
 * Nonces in PostgreSQL, so any attestation replica can check a nonce another
 * one issued; spending is one row-locked UPDATE, so two replicas racing on a
 * replay cannot both succeed.
 */
export class PgNonceStore implements NonceStore {
  constructor(
    private readonly repository: AttestationRepository,
    private readonly ttlMs: number,
  ) {}

  async issue(deviceId: string, now: number): Promise<{ nonce: string; expiresAt: number }> {
    const nonce = randomBytes(NONCE_BYTES).toString('base64url');
    const expiresAt = now + this.ttlMs;
    // A nonce request is also the device's sighting: it becomes known on its first valid IDevID.
    await this.repository.recordSeenAndInsertNonce(deviceId, nonce, new Date(expiresAt));
    return { nonce, expiresAt };
  }

  async consume(nonce: string, deviceId: string, now: number): Promise<NonceOutcome> {
    const before = await this.repository.spendNonce(nonce, deviceId);
    if (before === undefined) return { ok: false, reason: AttestationReason.nonceUnknown };
    if (before.deviceId !== deviceId) return { ok: false, reason: AttestationReason.nonceOtherDevice };
    if (before.wasUsed) return { ok: false, reason: AttestationReason.nonceReplayed };
    if (now >= new Date(before.expiresAt).getTime()) return { ok: false, reason: AttestationReason.nonceExpired };
    return { ok: true };
  }
}
