import { TokenBucket } from './token-bucket.js';

/** Why a key was refused: it already has work in flight, or it has used up its rate. */
export type PerKeyRefusal = 'busy' | 'rate_limited';

export interface PerKeyLimits {
  /** Sustained rate per key. */
  readonly ratePerSecond: number;
  /** Tokens a key may spend at once after a quiet spell. */
  readonly burst: number;
}

interface KeyState {
  readonly bucket: TokenBucket;
  busy: boolean;
}

export type PerKeyAdmission = { readonly ok: true; readonly release: () => void } | { readonly ok: false; readonly reason: PerKeyRefusal };

/**
 * One piece of work at a time per key, at most `ratePerSecond` of them, kept
 * by key rather than by connection: a client that reconnects between
 * requests finds its limits where it left them. Keys whose bucket has
 * refilled and that hold nothing are forgotten by `prune`, so the table
 * grows only with the keys active within a refill time.
 */
export class PerKeyLimiter {
  private readonly keys = new Map<string, KeyState>();

  constructor(private readonly limits: PerKeyLimits) {}

  /** Takes the key's one slot and one token; `release` gives the slot back (the token is spent). */
  tryAcquire(key: string, now: number): PerKeyAdmission {
    let state = this.keys.get(key);
    if (state === undefined) {
      state = { bucket: new TokenBucket(this.limits.ratePerSecond, this.limits.burst, now), busy: false };
      this.keys.set(key, state);
    }
    if (state.busy) return { ok: false, reason: 'busy' };
    if (!state.bucket.tryTake(now)) return { ok: false, reason: 'rate_limited' };
    state.busy = true;
    let released = false;
    const held = state;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        held.busy = false;
      },
    };
  }

  /** Forgets keys that hold nothing and have refilled; returns how many are still kept. */
  prune(now: number): number {
    for (const [key, state] of this.keys) {
      if (!state.busy && state.bucket.full(now)) this.keys.delete(key);
    }
    return this.keys.size;
  }

  get size(): number {
    return this.keys.size;
  }
}
