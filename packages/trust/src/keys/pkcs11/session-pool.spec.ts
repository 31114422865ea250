import { describe, expect, it } from 'vitest';
import { SessionPool } from './session-pool.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe(SessionPool.name, () => {
  it('lends each session to one operation at a time', async () => {
    const pool = new SessionPool(['a', 'b']);
    const inUse = new Set<string>();
    let most = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        pool.use(async (session) => {
          expect(inUse.has(session)).toBe(false);
          inUse.add(session);
          most = Math.max(most, inUse.size);
          await Promise.resolve();
          inUse.delete(session);
        }),
      ),
    );
    expect(most).toBe(2);
  });

  it('rejects waiters and later callers with the reason it was closed for, and drains when lent sessions return', async () => {
    const pool = new SessionPool(['only']);
    const gate = deferred();
    const running = pool.use(() => gate.promise);
    const waiting = pool.use(() => Promise.resolve('never'));
    const reason = new Error('token removed');
    pool.close(reason);
    await expect(waiting).rejects.toBe(reason);
    await expect(pool.use(() => Promise.resolve())).rejects.toBe(reason);
    let drained = false;
    const draining = pool.drained().then(() => (drained = true));
    await Promise.resolve();
    expect(drained).toBe(false);
    gate.resolve();
    await running;
    await draining;
    expect(drained).toBe(true);
  });
});
