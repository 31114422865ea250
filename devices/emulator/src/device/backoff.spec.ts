import { describe, expect, it } from 'vitest';
import { fullJitterBackoff } from './backoff.js';

describe('fullJitterBackoff', () => {
  it('grows the ceiling exponentially up to the cap', () => {
    const max = () => 0.999999;
    expect(fullJitterBackoff(0, max, 100, 10_000)).toBe(99);
    expect(fullJitterBackoff(3, max, 100, 10_000)).toBe(799);
    expect(fullJitterBackoff(20, max, 100, 10_000)).toBe(9_999);
  });

  it('spreads delays over the whole range (full jitter)', () => {
    expect(fullJitterBackoff(5, () => 0, 100, 10_000)).toBe(0);
    expect(fullJitterBackoff(5, () => 0.5, 100, 10_000)).toBe(1_600);
  });
});
