import { describe, expect, it } from 'vitest';
import { DEFAULT_SPIKE_RULE, isSpike } from './spike-rule.js';

describe('spike rule', () => {
  it('needs a minimum of reports and a multiple of the baseline rate', () => {
    expect(isSpike(9, 0, DEFAULT_SPIKE_RULE)).toBe(false);
    expect(isSpike(10, 0, DEFAULT_SPIKE_RULE)).toBe(true);
    // Baseline 120 per hour = 10 per 5 minutes: 49 is under 5x, 50 is a spike.
    expect(isSpike(49, 120, DEFAULT_SPIKE_RULE)).toBe(false);
    expect(isSpike(50, 120, DEFAULT_SPIKE_RULE)).toBe(true);
  });
});
