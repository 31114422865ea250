import { describe, expect, it } from 'vitest';
import { RolloutPlanSchema, assignWaves, decide, waveEnds, type WaveStats } from './rollout-plan.js';

const plan = (input: unknown = {}) => RolloutPlanSchema.parse(input);
const stats = (s: Partial<WaveStats>): WaveStats => ({
  devices: 10,
  installed: 0,
  failed: 0,
  timedOut: 0,
  waiting: 0,
  attestationFailures: 0,
  ...s,
});
const open = { current: 0, waves: 3, soakedMs: 0 };

describe('rollout plans', () => {
  it('cuts percent waves at cumulative shares, never empty', () => {
    expect(waveEnds(1000, plan({ waves: { kind: 'percent', percents: [1, 10, 50, 100] } }))).toEqual([10, 100, 500, 1000]);
    expect(waveEnds(20, plan({ waves: { kind: 'percent', percents: [1, 2, 100] } }))).toEqual([1, 20]);
    expect(waveEnds(0, plan())).toEqual([1]);
  });

  it('grows exponential waves by their factor', () => {
    expect(waveEnds(100, plan({ waves: { kind: 'exponential', first: 5, factor: 2 } }))).toEqual([5, 15, 35, 75, 100]);
  });

  it('refuses percents that do not rise to 100', () => {
    expect(RolloutPlanSchema.safeParse({ waves: { kind: 'percent', percents: [10, 5, 100] } }).success).toBe(false);
    expect(RolloutPlanSchema.safeParse({ waves: { kind: 'percent', percents: [10, 50] } }).success).toBe(false);
  });

  it('puts every device in exactly one wave, the same way every time, and differently per deployment', () => {
    const ids = Array.from({ length: 200 }, (_, i) => i.toString(16).padStart(64, '0'));
    const p = plan({ waves: { kind: 'percent', percents: [10, 100] } });
    const a = assignWaves('dep-a', ids, p);
    expect(a.waves).toBe(2);
    expect([...a.wave.values()].filter((w) => w === 0)).toHaveLength(20);
    expect(assignWaves('dep-a', [...ids].reverse(), p).wave).toEqual(a.wave);
    const firstB = [...assignWaves('dep-b', ids, p).wave].filter(([, w]) => w === 0).map(([id]) => id);
    const firstA = [...a.wave].filter(([, w]) => w === 0).map(([id]) => id);
    expect(firstB).not.toEqual(firstA);
  });

  it('aborts by AWS IoT Jobs criteria only once enough devices finished', () => {
    const p = plan({ abort: [{ failureType: 'FAILED', minExecuted: 5, thresholdPercentage: 40 }] });
    expect(decide(p, stats({ failed: 3, installed: 1, waiting: 6 }), 'healthy', open)).toMatchObject({ action: 'wait' });
    expect(decide(p, stats({ failed: 2, installed: 3, waiting: 5 }), 'healthy', open)).toMatchObject({
      action: 'abort',
      reason: expect.stringMatching(/2 of 5 devices failed/),
    });
    const timeouts = plan({ abort: [{ failureType: 'TIMED_OUT', minExecuted: 2, thresholdPercentage: 50 }] });
    expect(decide(timeouts, stats({ timedOut: 1, installed: 1 }), 'healthy', open)).toMatchObject({ action: 'abort' });
  });

  it('aborts on a worse crash rate; too little data does not hold a wave back; no answer waits', () => {
    const p = plan();
    const done = stats({ installed: 10 });
    expect(decide(p, done, 'worse', open)).toMatchObject({ action: 'abort', reason: expect.stringMatching(/crashes more/) });
    expect(decide(p, done, 'insufficient-data', open)).toEqual({ action: 'advance' });
    expect(decide(p, done, 'unknown', open)).toMatchObject({ action: 'wait' });
    expect(decide(plan({ gates: { crashRate: false } }), done, 'unknown', open)).toEqual({ action: 'advance' });
  });

  it('pauses below the install or attestation gate, soaks, and completes after the last wave', () => {
    const p = plan({ soakMinutes: 10, abort: [] });
    expect(decide(p, stats({ installed: 9, failed: 1 }), 'healthy', { ...open, soakedMs: 11 * 60_000 })).toEqual({ action: 'advance' });
    expect(decide(p, stats({ installed: 7, failed: 3 }), 'healthy', open)).toMatchObject({ action: 'pause' });
    expect(decide(p, stats({ installed: 10, attestationFailures: 2 }), 'healthy', open)).toMatchObject({ action: 'pause' });
    expect(decide(p, stats({ installed: 10 }), 'healthy', open)).toMatchObject({ action: 'wait', why: 'soaking' });
    expect(decide(p, stats({ installed: 10 }), 'healthy', { current: 2, waves: 3, soakedMs: 600_000 })).toEqual({ action: 'complete' });
  });

  it('does not judge again the shortfall a person accepted by resuming: only the waves opened since', () => {
    const p = plan({ abort: [] });
    const paused = stats({ installed: 7, failed: 3 });
    expect(decide(p, paused, 'healthy', open)).toMatchObject({ action: 'pause' });
    // Resumed at wave 0: no wave opened since, nothing judged; the rollout goes on.
    expect(decide(p, { ...paused, gated: { installed: 0, failed: 0, timedOut: 0 } }, 'healthy', open)).toEqual({ action: 'advance' });
    // The next wave is judged on its own devices.
    const next = { ...open, current: 1 };
    expect(
      decide(p, { ...stats({ installed: 17, failed: 3 }), gated: { installed: 10, failed: 0, timedOut: 0 } }, 'healthy', next),
    ).toEqual({
      action: 'advance',
    });
    expect(
      decide(p, { ...stats({ installed: 12, failed: 8 }), gated: { installed: 5, failed: 5, timedOut: 0 } }, 'healthy', next),
    ).toMatchObject({
      action: 'pause',
    });
  });
});
