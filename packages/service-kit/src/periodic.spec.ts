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
    await periodic.stop();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(runs).toBe(3);
  });

  it('never overlaps runs: a run still going makes the next due one skip', async () => {
    vi.useFakeTimers();
    let started = 0;
    let running = 0;
    let most = 0;
    const periodic = every(
      1_000,
      async () => {
        started++;
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 2_500));
        running--;
      },
      () => undefined,
    );
    await vi.advanceTimersByTimeAsync(10_500);
    const stopped = periodic.stop();
    await vi.advanceTimersByTimeAsync(2_500);
    await stopped;
    expect(most).toBe(1);
    expect(started).toBe(4); // at 1 s, 4 s, 7 s, 10 s: each run takes 2.5 s, so two of every three ticks skip
  });

  it('stop waits for the run in progress, so what the run uses may close after it', async () => {
    vi.useFakeTimers();
    let finished = false;
    const periodic = every(
      1_000,
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        finished = true;
      },
      () => undefined,
    );
    await vi.advanceTimersByTimeAsync(1_500);
    let stopped = false;
    const stopping = periodic.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(stopped).toBe(false);
    await vi.advanceTimersByTimeAsync(1_000);
    await stopping;
    expect(finished).toBe(true);
  });

  it('stop resolves at once when no run is in progress, and a failed run does not make it reject', async () => {
    vi.useFakeTimers();
    const periodic = every(
      1_000,
      () => Promise.reject(new Error('down')),
      () => undefined,
    );
    await vi.advanceTimersByTimeAsync(1_500);
    await expect(periodic.stop()).resolves.toBeUndefined();
  });
});
