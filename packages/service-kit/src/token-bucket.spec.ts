import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.js';

describe(TokenBucket.name, () => {
  it('allows a burst, then the rate', () => {
    const bucket = new TokenBucket(10, 3, 0);
    expect([bucket.tryTake(0), bucket.tryTake(0), bucket.tryTake(0), bucket.tryTake(0)]).toEqual([true, true, true, false]);
    expect(bucket.waitMs(0)).toBe(100);
    expect(bucket.tryTake(100)).toBe(true);
    expect(bucket.tryTake(100)).toBe(false);
  });

  it('never holds more than the burst', () => {
    const bucket = new TokenBucket(10, 2, 0);
    const taken = [1, 2, 3].map(() => bucket.tryTake(60_000));
    expect(taken).toEqual([true, true, false]);
  });
});
