export interface Periodic {
  /** No run begins after this; resolves when the run in progress (if any) has finished, so what it uses may then close. */
  stop(): Promise<void>;
}

/**
 * Runs `work` every `intervalMs` in the background (a sweep, a retention
 * pass, a policy check): a failed run is handed to `onFailure` and the next
 * one runs anyway; a run still going when the next is due makes that one
 * skip (runs never overlap); the timer never keeps the process alive.
 */
export function every(intervalMs: number, work: () => Promise<unknown>, onFailure: (error: unknown) => void): Periodic {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running !== undefined) return;
    running = work()
      .then(() => undefined, onFailure)
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
