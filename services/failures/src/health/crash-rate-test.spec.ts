import { seededRandom } from '@rampart/testing';
import { describe, expect, it } from 'vitest';
import { binomialUpperTail, compareCrashRates } from './crash-rate-test.js';

/** Knuth's Poisson sampler (fine for the means used here). */
function poisson(mean: number, random: () => number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  let product = random();
  while (product > limit) {
    k++;
    product *= random();
  }
  return k;
}

describe('binomialUpperTail', () => {
  it('matches exact values', () => {
    expect(binomialUpperTail(0, 10, 0.3)).toBe(1);
    expect(binomialUpperTail(11, 10, 0.3)).toBe(0);
    // P(X >= 8), X ~ B(10, 0.5) = (45 + 10 + 1) / 1024
    expect(binomialUpperTail(8, 10, 0.5)).toBeCloseTo(56 / 1024, 12);
    // Large n stays finite and sensible.
    expect(binomialUpperTail(600, 1000, 0.5)).toBeLessThan(1e-9);
  });
});

describe('compareCrashRates', () => {
  /**
   * A realistic first wave: a fleet of 2,000 devices on the old version for a
   * day (48,000 device-hours at 0.002 crashes per device-hour: ~96 crashes),
   * the new version on a 10 % wave for a day (4,800 device-hours).
   */
  function simulate(ratio: number, waveDeviceHours: number, trials: number, seed: number) {
    const random = seededRandom(seed);
    const rate = 0.002;
    let flagged = 0;
    let insufficient = 0;
    for (let i = 0; i < trials; i++) {
      const baseline = { crashes: poisson(rate * 48_000, random), deviceHours: 48_000 };
      const candidate = { crashes: poisson(rate * ratio * waveDeviceHours, random), deviceHours: waveDeviceHours };
      const answer = compareCrashRates(candidate, baseline);
      if (answer.verdict === 'worse') flagged++;
      if (answer.verdict === 'insufficient-data') insufficient++;
    }
    return { flagged: flagged / trials, insufficient: insufficient / trials };
  }

  it('flags a version with 3x the crash rate and not one equal to its baseline (simulated: false-positive and false-negative rates)', () => {
    const equal = simulate(1, 4_800, 4_000, 1);
    const triple = simulate(3, 4_800, 4_000, 2);
    const smallWave = simulate(3, 1_200, 4_000, 3);
    process.stdout.write(
      `  crash-rate test, 10 % wave for a day: false positives ${(equal.flagged * 100).toFixed(2)} %, ` +
        `false negatives at 3x ${((1 - triple.flagged) * 100).toFixed(2)} %; a 2.5 % wave: false negatives ${((1 - smallWave.flagged) * 100).toFixed(1)} %\n`,
    );
    expect(equal.flagged).toBeLessThanOrEqual(0.015); // alpha = 1 %, exact test: at most alpha plus simulation noise
    expect(triple.flagged).toBeGreaterThanOrEqual(0.95); // measured 97.5 %
    expect(equal.insufficient).toBe(0);
  });

  it('answers insufficient-data, never healthy, on too little exposure or too few expected crashes', () => {
    expect(compareCrashRates({ crashes: 0, deviceHours: 10 }, { crashes: 50, deviceHours: 10_000 }).verdict).toBe('insufficient-data');
    const young = compareCrashRates({ crashes: 0, deviceHours: 200 }, { crashes: 10, deviceHours: 100_000 });
    expect(young.verdict).toBe('insufficient-data');
    expect(young.reason).toMatch(/crashes expected/);
    // Enough evidence of harm needs no minimum: 12 crashes in 200 device-hours against 1 per 10,000 is worse.
    expect(compareCrashRates({ crashes: 12, deviceHours: 200 }, { crashes: 10, deviceHours: 100_000 }).verdict).toBe('worse');
  });

  it('tolerates a configured ratio', () => {
    const candidate = { crashes: 40, deviceHours: 10_000 }; // twice the baseline rate
    const baseline = { crashes: 200, deviceHours: 100_000 };
    expect(compareCrashRates(candidate, baseline).verdict).toBe('worse');
    expect(
      compareCrashRates(candidate, baseline, { alpha: 0.01, toleratedRatio: 2, minDeviceHours: 100, minExpectedCrashes: 5 }).verdict,
    ).toBe('healthy');
  });

  it('refuses nonsense input', () => {
    expect(() => compareCrashRates({ crashes: -1, deviceHours: 10 }, { crashes: 1, deviceHours: 10 })).toThrow(RangeError);
    expect(() => compareCrashRates({ crashes: 1.5, deviceHours: 10 }, { crashes: 1, deviceHours: 10 })).toThrow(RangeError);
  });
});
