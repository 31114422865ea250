export interface Periodic {
  stop(): void;
}

/**
 * Runs `work` every `intervalMs` in the background (a sweep, a retention
 * pass, a policy check): a failed run is handed to `onFailure` and the next
 * one runs anyway; the timer never keeps the process alive.
 */
export function every(intervalMs: number, work: () => Promise<unknown>, onFailure: (error: unknown) => void): Periodic {
  const timer = setInterval(() => {
    work().catch(onFailure);
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
