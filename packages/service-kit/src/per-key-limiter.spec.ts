import { describe, expect, it } from 'vitest';
import { PerKeyLimiter } from './per-key-limiter.js';

describe(PerKeyLimiter.name, () => {
  it('lets one piece of work per key run at a time', () => {
    const limiter = new PerKeyLimiter({ ratePerSecond: 10, burst: 10 });
    const first = limiter.tryAcquire('a', 0);
    expect(first.ok).toBe(true);
    expect(limiter.tryAcquire('a', 0)).toEqual({ ok: false, reason: 'busy' });
    expect(limiter.tryAcquire('b', 0).ok).toBe(true);
    if (first.ok) first.release();
    expect(limiter.tryAcquire('a', 0).ok).toBe(true);
  });

  it('keeps the rate by key, so starting over (a reconnect) does not refill it', () => {
    const limiter = new PerKeyLimiter({ ratePerSecond: 1, burst: 2 });
    const take = (now: number) => {
      const admission = limiter.tryAcquire('a', now);
      if (admission.ok) admission.release();
      return admission.ok ? 'ok' : admission.reason;
    };
    expect([take(0), take(0), take(0)]).toEqual(['ok', 'ok', 'rate_limited']);
    expect(take(999)).toBe('rate_limited');
    expect(take(1_000)).toBe('ok');
  });

  it('a release given twice frees the slot once', () => {
    const limiter = new PerKeyLimiter({ ratePerSecond: 10, burst: 10 });
    const first = limiter.tryAcquire('a', 0);
    if (!first.ok) throw new Error('refused');
    first.release();
    const second = limiter.tryAcquire('a', 0);
    first.release();
    expect(second.ok).toBe(true);
    expect(limiter.tryAcquire('a', 0)).toEqual({ ok: false, reason: 'busy' });
  });

  it('forgets only keys that hold nothing and have refilled', () => {
    const limiter = new PerKeyLimiter({ ratePerSecond: 1, burst: 1 });
    const held = limiter.tryAcquire('held', 0);
    const spent = limiter.tryAcquire('spent', 0);
    if (spent.ok) spent.release();
    expect(limiter.prune(500)).toBe(2);
    expect(limiter.prune(1_000)).toBe(1);
    if (held.ok) held.release();
    expect(limiter.prune(1_000)).toBe(0);
  });
});
