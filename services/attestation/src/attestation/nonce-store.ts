import { randomBytes } from 'node:crypto';
import { AttestationReason, NONCE_BYTES, type AttestationReasonCode } from '@rampart/contracts';

export const DEFAULT_NONCE_TTL_MS = 60_000;

export type NonceOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: AttestationReasonCode };

/** Single-use, short-lived nonces bound to the device they were issued to. */
export interface NonceStore {
  issue(deviceId: string, now: number): Promise<{ nonce: string; expiresAt: number }>;
  /** Marks the nonce used; any second use, or a use by another device, fails. */
  consume(nonce: string, deviceId: string, now: number): Promise<NonceOutcome>;
}

interface Entry {
  readonly deviceId: string;
  readonly expiresAt: number;
  used: boolean;
}

/**
 * Nonces in this process's memory, for a single attestation replica (the
 * embedded mode and tests). Used nonces are kept until they would have
 * expired so a replay is reported as a replay, then forgotten.
 */
export class InMemoryNonceStore implements NonceStore {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly ttlMs = DEFAULT_NONCE_TTL_MS) {}

  issue(deviceId: string, now: number): Promise<{ nonce: string; expiresAt: number }> {
    this.sweep(now);
    const nonce = randomBytes(NONCE_BYTES).toString('base64url');
    const expiresAt = now + this.ttlMs;
    this.entries.set(nonce, { deviceId, expiresAt, used: false });
    return Promise.resolve({ nonce, expiresAt });
  }

  consume(nonce: string, deviceId: string, now: number): Promise<NonceOutcome> {
    const entry = this.entries.get(nonce);
    let outcome: NonceOutcome = { ok: true };
    if (entry === undefined) outcome = { ok: false, reason: AttestationReason.nonceUnknown };
    else if (entry.deviceId !== deviceId) outcome = { ok: false, reason: AttestationReason.nonceOtherDevice };
    else if (entry.used) outcome = { ok: false, reason: AttestationReason.nonceReplayed };
    else if (now >= entry.expiresAt) outcome = { ok: false, reason: AttestationReason.nonceExpired };
    // A nonce presented by its own device is spent whatever the outcome.
    if (entry !== undefined && entry.deviceId === deviceId) entry.used = true;
    return Promise.resolve(outcome);
  }

  private sweep(now: number): void {
    for (const [nonce, entry] of this.entries) {
      if (entry.expiresAt + this.ttlMs < now) this.entries.delete(nonce);
    }
  }
}
