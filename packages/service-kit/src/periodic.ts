export interface Periodic {
  stop(): void;
}

/**
 * Runs `work` every `intervalMs` in the background (a sweep, a retention
 * pass, a policy check): a failed run is handed to `onFailure` and the next
 * one runs anyway; a run still going when the next is due makes that one
 * skip (runs never overlap); the timer never keeps the process alive.
 */
export function every(intervalMs: number, work: () => Promise<unknown>, onFailure: (error: unknown) => void): Periodic {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    work()
      .catch(onFailure)
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
