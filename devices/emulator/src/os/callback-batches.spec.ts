import { describe, expect, it } from 'vitest';
import { CallbackBatches, type BatchedCallback } from './callback-batches.js';

interface Outcome {
  ran: boolean;
  returned?: unknown;
  threw?: unknown;
  overran?: { code?: string };
  overranAfterMs?: number;
}

function callback(budgetMs: number, fn: () => unknown, live = () => true): { callback: BatchedCallback; outcome: Outcome } {
  const outcome: Outcome = { ran: false };
  let started = 0;
  return {
    outcome,
    callback: {
      budgetMs,
      fn: () => {
        outcome.ran = true;
        started = performance.now();
        return fn();
      },
      live,
      returned: (result) => (outcome.returned = result),
      threw: (error) => (outcome.threw = error),
      overran: (error) => {
        outcome.overran = error as { code?: string };
        outcome.overranAfterMs = performance.now() - started;
      },
    },
  };
}

const flushed = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));

describe('CallbackBatches', () => {
  it('runs each callback once, hands back what it returned or threw, and drops callbacks no longer live', async () => {
    const batches = new CallbackBatches();
    const ok = callback(50, () => 42);
    const failing = callback(50, () => {
      throw new Error('boom');
    });
    const dead = callback(
      50,
      () => 1,
      () => false,
    );
    for (const c of [ok, failing, dead]) batches.enqueue(c.callback);
    await flushed();
    expect(ok.outcome).toMatchObject({ ran: true, returned: 42 });
    expect((failing.outcome.threw as Error).message).toBe('boom');
    expect(failing.outcome.returned).toBeUndefined();
    expect(dead.outcome.ran).toBe(false);
  });

  it('stops a runaway callback after at least its whole budget, blames only it, and still runs the rest', async () => {
    const batches = new CallbackBatches();
    const before = callback(40, () => 'before');
    const runaway = callback(40, () => {
      for (;;);
    });
    const after = Array.from({ length: 5 }, (_, i) => callback(40, () => i));
    for (const c of [before, runaway, ...after]) batches.enqueue(c.callback);
    await flushed();
    expect(before.outcome).toMatchObject({ ran: true, returned: 'before' });
    expect(before.outcome.overran).toBeUndefined();
    expect(runaway.outcome.overran?.code).toBe('ERR_SCRIPT_EXECUTION_TIMEOUT');
    expect(runaway.outcome.overranAfterMs).toBeGreaterThanOrEqual(40);
    for (const [i, c] of after.entries()) {
      expect(c.outcome).toMatchObject({ ran: true, returned: i });
      expect(c.outcome.overran).toBeUndefined();
    }
  });

  it('does not blame a callback for the time its batch-mates used: a slow one starts the next batch', async () => {
    const batches = new CallbackBatches();
    const busy = (ms: number) => () => {
      const until = performance.now() + ms;
      while (performance.now() < until);
      return ms;
    };
    // Each uses 60 % of its budget: together they overrun one batch's limit, but none overruns its own budget.
    const slow = Array.from({ length: 4 }, () => callback(50, busy(30)));
    for (const c of slow) batches.enqueue(c.callback);
    await flushed();
    for (const c of slow) {
      expect(c.outcome.overran).toBeUndefined();
      expect(c.outcome.returned).toBe(30);
    }
  });
});
