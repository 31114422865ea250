import type { Clock, TimerHandle } from './ports.js';

/**
 * The clock on Node's own time and timers. Its handles are Node's timers
 * under the opaque `TimerHandle` type (the one place that knows what they
 * are), so nothing else can come to depend on Node's `Timeout`.
 */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms) as unknown as TimerHandle,
  clearTimer: (timer) => clearTimeout(timer as unknown as NodeJS.Timeout | undefined),
};
