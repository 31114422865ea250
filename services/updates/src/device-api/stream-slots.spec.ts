import { describe, expect, it } from 'vitest';
import { StreamSlots } from './stream-slots.js';

describe('StreamSlots', () => {
  it('lets `max` transfers through at once and the rest in arrival order as slots come back', async () => {
    const slots = new StreamSlots(2);
    const order: number[] = [];
    const releases = await Promise.all([slots.acquire(), slots.acquire()]);
    const waiting = [3, 4, 5].map((n) => slots.acquire().then((release) => (order.push(n), release)));
    expect(slots.inUse).toBe(2);
    expect(slots.queued).toBe(3);
    releases[0]();
    releases[0](); // twice: still one slot back
    const third = await waiting[0]!;
    expect(order).toEqual([3]);
    expect(slots.inUse).toBe(2);
    releases[1]();
    third();
    await Promise.all(waiting);
    expect(order).toEqual([3, 4, 5]);
    expect(slots.queued).toBe(0);
  });

  it('gives up the place of a transfer whose device left while waiting', async () => {
    const slots = new StreamSlots(1);
    const release = await slots.acquire();
    const left = new AbortController();
    const leaving = slots.acquire(left.signal);
    const staying = slots.acquire();
    left.abort(new Error('gone'));
    await expect(leaving).rejects.toThrow('gone');
    expect(slots.queued).toBe(1);
    release();
    await staying;
    expect(slots.inUse).toBe(1);
    expect(slots.queued).toBe(0);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => new StreamSlots(0)).toThrow(/positive integer/);
  });
});
