import { afterEach, describe, expect, it, vi } from 'vitest';
import { every } from './periodic.js';

describe('every', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs the work each interval, hands a failure over, keeps going, and stops', async () => {
    vi.useFakeTimers();
    let runs = 0;
    const failures: unknown[] = [];
    const periodic = every(
      1_000,
      () => {
        runs++;
        return runs === 2 ? Promise.reject(new Error('database down')) : Promise.resolve();
      },
      (error) => failures.push(error),
    );
    await vi.advanceTimersByTimeAsync(3_500);
    expect(runs).toBe(3);
    expect(failures).toEqual([new Error('database down')]);
    periodic.stop();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(runs).toBe(3);
  });
});
