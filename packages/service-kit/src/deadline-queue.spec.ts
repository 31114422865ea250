import { describe, expect, it } from 'vitest';
import { DeadlineQueue } from './deadline-queue.js';
import { systemClock } from './tokens.js';

/** Work that finishes when the test says so. */
function gate(): { promise: Promise<string>; open: (value: string) => void; fail: (error: Error) => void } {
  let open!: (value: string) => void;
  let fail!: (error: Error) => void;
  const promise = new Promise<string>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

describe(DeadlineQueue.name, () => {
  const later = () => Date.now() + 60_000;

  it('runs up to maxActive at once, queues up to maxWaiting, and refuses the rest as overloaded', async () => {
    const queue = new DeadlineQueue(1, 1, systemClock);
    const first = gate();
    const running = queue.run(() => first.promise, { deadline: later() });
    const waiting = queue.run(() => Promise.resolve('second'), { deadline: later() });
    expect(await queue.run(() => Promise.resolve('third'), { deadline: later() })).toEqual({ kind: 'refused', reason: 'overloaded' });
    expect([queue.active, queue.queued]).toEqual([1, 1]);
    first.open('first');
    expect(await running).toEqual({ kind: 'done', value: 'first' });
    expect(await waiting).toEqual({ kind: 'done', value: 'second' });
    expect([queue.active, queue.queued]).toEqual([0, 0]);
  });

  it('drops work whose deadline passes while it waits, without running it, and frees its place', async () => {
    const queue = new DeadlineQueue(1, 1, systemClock);
    const first = gate();
    const running = queue.run(() => first.promise, { deadline: later() });
    let ran = false;
    const expired = await queue.run(
      () => {
        ran = true;
        return Promise.resolve('late');
      },
      { deadline: Date.now() + 20 },
    );
    expect(expired).toEqual({ kind: 'refused', reason: 'expired' });
    expect(queue.queued).toBe(0);
    first.open('first');
    await running;
    expect(ran).toBe(false);
  });

  it('refuses work already past its deadline, and drops work nobody wants any more when its turn comes', async () => {
    const queue = new DeadlineQueue(1, 2, systemClock);
    expect(await queue.run(() => Promise.resolve('x'), { deadline: Date.now() - 1 })).toEqual({ kind: 'refused', reason: 'expired' });
    const first = gate();
    const running = queue.run(() => first.promise, { deadline: later() });
    const unwanted = queue.run(() => Promise.resolve('gone'), { deadline: later(), wanted: () => false });
    const wanted = queue.run(() => Promise.resolve('here'), { deadline: later(), wanted: () => true });
    first.open('first');
    await running;
    expect(await unwanted).toEqual({ kind: 'refused', reason: 'cancelled' });
    expect(await wanted).toEqual({ kind: 'done', value: 'here' });
  });

  it('reports work that rejects as failed and gives its slot back (issue 13: a rejected call must not wedge its caller)', async () => {
    const queue = new DeadlineQueue(1, 1, systemClock);
    const first = gate();
    const running = queue.run(() => first.promise, { deadline: later() });
    const next = queue.run(() => Promise.resolve('after'), { deadline: later() });
    first.fail(new Error('attestation service exploded'));
    expect(await running).toMatchObject({ kind: 'failed', error: { message: 'attestation service exploded' } });
    expect(await next).toEqual({ kind: 'done', value: 'after' });
    expect(queue.active).toBe(0);
  });
});
