import { describe, expect, it } from 'vitest';
import { MicroBatcher } from './micro-batcher.js';

function deferred(): { promise: Promise<void>; release: () => void } {
  let release!: () => void;
  const promise = new Promise<void>((r) => (release = r));
  return { promise, release };
}

describe('MicroBatcher', () => {
  it('gathers items submitted while a flush is in flight into the next batch, answering each in order', async () => {
    const batches: number[][] = [];
    const gate = deferred();
    const batcher = new MicroBatcher<number, number>(
      async (items) => {
        batches.push([...items]);
        if (batches.length === 1) await gate.promise;
        return items.map((n) => n * 10);
      },
      { maxBatch: 100, concurrency: 1 },
    );
    const first = batcher.submit(1);
    await new Promise((r) => setImmediate(r));
    const rest = [2, 3, 4].map((n) => batcher.submit(n));
    expect(batcher.waiting).toBe(3);
    gate.release();
    expect(await Promise.all([first, ...rest])).toEqual([10, 20, 30, 40]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('caps a batch at maxBatch and runs up to `concurrency` flushes at once', async () => {
    let running = 0;
    let most = 0;
    const sizes: number[] = [];
    const batcher = new MicroBatcher<number, number>(
      async (items) => {
        running++;
        most = Math.max(most, running);
        sizes.push(items.length);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return items;
      },
      { maxBatch: 4, concurrency: 2 },
    );
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.submit(i)));
    expect(results).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(Math.max(...sizes)).toBe(4);
    expect(most).toBe(2);
  });

  it('rejects every item of a failed batch and keeps serving later ones', async () => {
    let fail = true;
    const batcher = new MicroBatcher<string, string>(
      (items) => {
        if (fail) return Promise.reject(new Error('database down'));
        return Promise.resolve(items.map((s) => s.toUpperCase()));
      },
      { maxBatch: 10, concurrency: 1 },
    );
    const failed = await Promise.allSettled([batcher.submit('a'), batcher.submit('b')]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await batcher.submit('c')).toBe('C');
  });

  it('refuses a flush that answers the wrong number of results', async () => {
    const batcher = new MicroBatcher<number, number>(() => Promise.resolve([]), { maxBatch: 10, concurrency: 1 });
    await expect(batcher.submit(1)).rejects.toThrow(/0 results for 1 items/);
  });
});
