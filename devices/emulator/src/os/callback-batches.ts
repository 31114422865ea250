import vm from 'node:vm';

/** One app callback waiting to run, and where what it does goes. */
export interface BatchedCallback {
  readonly budgetMs: number;
  /** The app's own function; called with no `this` (so the app never holds a host object). */
  readonly fn: () => unknown;
  /** False once the app was killed or restarted: the callback is dropped, not run. */
  live(): boolean;
  returned(result: unknown): void;
  threw(error: unknown): void;
  /** Its budget ran out mid-call. */
  overran(error: unknown): void;
}

/**
 * Runs app callbacks in batches, each batch under one V8 time limit.
 *
 * Why: the only way Node lets a host stop runaway JavaScript is the
 * `timeout` of a vm script, and each use starts and joins a watchdog
 * thread — measured here, 265–445 µs per call against 2 µs without one. A
 * fleet of 1,000 devices whose apps tick once a second spent a third of a
 * core on watchdog threads alone.
 *
 * How the budget still holds per callback: a batch starts new callbacks
 * only during its first `budget / 2`, and is stopped at `1.5 × budget`, so
 * whatever is running when the limit fires has run for at least its whole
 * budget. That callback — and only it — is killed; callbacks not yet
 * started go on in the next batch. A runaway callback is therefore stopped
 * after between 1× and 1.5× its budget.
 *
 * Callbacks queued in one turn of the event loop (the timers that fell due
 * together) share a batch: the busier the loop, the larger the batches.
 */
export class CallbackBatches {
  private readonly queues = new Map<number, BatchedCallback[]>();
  private flushScheduled = false;
  private running: BatchedCallback[] = [];
  private next = 0;
  private startedAt = 0;
  private startWindowMs = 0;
  private readonly runner = vm.createContext({ batch: Object.freeze({ next: () => this.nextCallback() }) }, { name: 'rampart-runtime' });
  /**
   * The loop runs in its own context, not in host code: the app's frames are then called from code with no
   * source map, and its errors are caught without a host object ever reaching it.
   */
  private static readonly LOOP = new vm.Script(
    `for (let callback; (callback = batch.next()) !== undefined; ) {
      const fn = callback.fn;
      let result;
      try {
        result = fn();
      } catch (error) {
        callback.threw(error);
        continue;
      }
      callback.returned(result);
    }`,
    { filename: 'rampart-runtime' },
  );

  enqueue(callback: BatchedCallback): void {
    let queue = this.queues.get(callback.budgetMs);
    if (queue === undefined) this.queues.set(callback.budgetMs, (queue = []));
    queue.push(callback);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const [budgetMs, queue] of this.queues) {
      this.queues.delete(budgetMs);
      let pending = queue;
      while (pending.length > 0) pending = this.runBatch(pending, budgetMs);
    }
  }

  /** Runs as many of `callbacks` as the start window allows; returns those not started. */
  private runBatch(callbacks: BatchedCallback[], budgetMs: number): BatchedCallback[] {
    this.running = callbacks;
    this.next = 0;
    this.startWindowMs = budgetMs / 2;
    this.startedAt = performance.now();
    try {
      CallbackBatches.LOOP.runInContext(this.runner, { timeout: Math.ceil(budgetMs * 1.5) });
    } catch (error) {
      // Only the time limit gets here (each callback's own errors are caught in the loop): the one running overran.
      callbacks[this.next - 1]?.overran(error);
    }
    const rest = callbacks.slice(this.next);
    this.running = [];
    return rest;
  }

  private nextCallback(): BatchedCallback | undefined {
    while (this.next < this.running.length) {
      if (this.next > 0 && performance.now() - this.startedAt >= this.startWindowMs) return undefined;
      const callback = this.running[this.next++]!;
      if (callback.live()) return callback;
    }
    return undefined;
  }
}
