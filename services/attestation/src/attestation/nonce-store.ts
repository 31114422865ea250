import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { AttestationReason, NONCE_BYTES, type AttestationReasonCode } from '@rampart/contracts';

export const DEFAULT_NONCE_TTL_MS = 60_000;

export type NonceOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: AttestationReasonCode };

/** Single-use, short-lived nonces bound to the device they were issued to. */
export interface NonceStore {
  issue(deviceId: string, now: number): Promise<{ nonce: string; expiresAt: number }>;
  /** Marks the nonce used; any second use, or a use by another device, fails. */
  consume(nonce: string, deviceId: string, now: number): Promise<NonceOutcome>;
}

/** Where spent nonces are remembered until they expire; shared by every replica. */
export interface SpentNonces {
  /** Records the nonce as spent; false if it already was. Atomic across replicas. */
  spend(nonce: string, expiresAt: number): Promise<boolean>;
}

/**
 * Layout of the 32 nonce bytes: random | expiry (ms, big-endian) | issue
 * mark | device tag. The issue mark (HMAC over random and expiry) shows a
 * nonce is ours; the device tag (HMAC over all that and the device id) binds
 * it to the device it was issued to. Telling the two apart lets a refusal
 * say "another device's nonce" rather than "unknown nonce".
 */
const RANDOM_BYTES = 8;
const EXPIRY_BYTES = 6;
const MARK_BYTES = 6;
const TAG_BYTES = NONCE_BYTES - RANDOM_BYTES - EXPIRY_BYTES - MARK_BYTES;
const ISSUED_BYTES = RANDOM_BYTES + EXPIRY_BYTES;
const BODY_BYTES = ISSUED_BYTES + MARK_BYTES;

/**
 * Nonces that carry their own proof: the device they were issued to and
 * their expiry are sealed under an HMAC key every attestation replica
 * derives from the shared key-encryption key. Issuing needs no storage, and
 * any replica can check a nonce another one issued; only spending touches
 * shared state (`SpentNonces`), once per attestation.
 *
 * A 96-bit device tag is ample for a token that lives a minute (NIST
 * SP 800-107 §5.3.3 allows HMAC truncation to 64 bits); the 48-bit issue
 * mark only chooses the reason code of a refusal.
 */
export class SealedNonceStore implements NonceStore {
  private readonly key: Buffer;

  constructor(
    secret: Uint8Array,
    private readonly ttlMs: number,
    private readonly spent: SpentNonces,
  ) {
    this.key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'rampart attestation nonce v1', 32));
  }

  issue(deviceId: string, now: number): Promise<{ nonce: string; expiresAt: number }> {
    const expiresAt = now + this.ttlMs;
    const body = Buffer.alloc(BODY_BYTES);
    randomBytes(RANDOM_BYTES).copy(body, 0);
    body.writeUIntBE(expiresAt, RANDOM_BYTES, EXPIRY_BYTES);
    this.mac(body.subarray(0, ISSUED_BYTES), '', MARK_BYTES).copy(body, ISSUED_BYTES);
    const nonce = Buffer.concat([body, this.mac(body, deviceId, TAG_BYTES)]).toString('base64url');
    return Promise.resolve({ nonce, expiresAt });
  }

  async consume(nonce: string, deviceId: string, now: number): Promise<NonceOutcome> {
    const bytes = Buffer.from(nonce, 'base64url');
    if (bytes.length !== NONCE_BYTES) return { ok: false, reason: AttestationReason.nonceUnknown };
    const body = bytes.subarray(0, BODY_BYTES);
    if (!timingSafeEqual(bytes.subarray(BODY_BYTES), this.mac(body, deviceId, TAG_BYTES))) {
      const ours = timingSafeEqual(body.subarray(ISSUED_BYTES), this.mac(body.subarray(0, ISSUED_BYTES), '', MARK_BYTES));
      return { ok: false, reason: ours ? AttestationReason.nonceOtherDevice : AttestationReason.nonceUnknown };
    }
    const expiresAt = body.readUIntBE(RANDOM_BYTES, EXPIRY_BYTES);
    if (now >= expiresAt) return { ok: false, reason: AttestationReason.nonceExpired };
    if (!(await this.spent.spend(nonce, expiresAt))) return { ok: false, reason: AttestationReason.nonceReplayed };
    return { ok: true };
  }

  private mac(data: Buffer, deviceId: string, bytes: number): Buffer {
    return createHmac('sha256', this.key).update(data).update(deviceId).digest().subarray(0, bytes);
  }
}

/**
 * Spent nonces in this process's memory, for one replica (unit tests).
 * Entries are forgotten once their nonce could no longer be accepted anyway.
 */
export class InMemorySpentNonces implements SpentNonces {
  private readonly entries = new Map<string, number>();

  constructor(private readonly clock: () => number = Date.now) {}

  spend(nonce: string, expiresAt: number): Promise<boolean> {
    const now = this.clock();
    for (const [n, expiry] of this.entries) if (expiry < now) this.entries.delete(n);
    if (this.entries.has(nonce)) return Promise.resolve(false);
    this.entries.set(nonce, expiresAt);
    return Promise.resolve(true);
  }
}
