import { describe, expect, it } from 'vitest';
import { KeyedAdmission } from './keyed-admission.js';
import { systemClock } from './tokens.js';

const LIMITS = { ratePerSecond: 1 / 60, burst: 2, maxActive: 4, maxWaiting: 4 };
const later = () => Date.now() + 60_000;

describe(KeyedAdmission.name, () => {
  it('runs one piece of work per key at a time, and the key gets its slot back even when the work fails', async () => {
    const admission = new KeyedAdmission(LIMITS, systemClock);
    let finish!: () => void;
    const running = admission.run('device-a', () => new Promise<string>((resolve) => (finish = () => resolve('a'))), { deadline: later() });
    expect(await admission.run('device-a', () => Promise.resolve('again'), { deadline: later() })).toEqual({
      kind: 'refused',
      reason: 'busy',
    });
    expect(await admission.run('device-b', () => Promise.resolve('b'), { deadline: later() })).toEqual({ kind: 'done', value: 'b' });
    finish();
    expect(await running).toEqual({ kind: 'done', value: 'a' });
    const failure = new Error('boom');
    expect(await admission.run('device-b', () => Promise.reject(failure), { deadline: later() })).toEqual({
      kind: 'failed',
      error: failure,
    });
    // device-b has spent its burst of 2 (one done, one failed) but holds no slot: it is refused for its rate, not as busy.
    expect(await admission.run('device-b', () => Promise.resolve('b'), { deadline: later() })).toEqual({
      kind: 'refused',
      reason: 'rate_limited',
    });
  });

  it('refuses work whose deadline has passed without running it', async () => {
    const admission = new KeyedAdmission(LIMITS, systemClock);
    let ran = false;
    const outcome = await admission.run('device-a', () => Promise.resolve((ran = true)), { deadline: Date.now() - 1 });
    expect(outcome).toEqual({ kind: 'refused', reason: 'expired' });
    expect(ran).toBe(false);
  });

  it('tallies refusals for one summary at a time, naming at most ten keys', () => {
    const admission = new KeyedAdmission(LIMITS, systemClock);
    expect(admission.takeSummary()).toBeUndefined();
    for (let i = 0; i < 12; i++) admission.noteRefusal('rate_limited', `device-${i}`);
    admission.noteRefusal('expired', 'device-0');
    const summary = admission.takeSummary();
    expect(summary?.refused).toEqual({ rate_limited: 12, expired: 1 });
    expect(summary?.keys).toHaveLength(10);
    expect(admission.takeSummary()).toBeUndefined();
  });
});
