export const DEFAULT_BACKOFF_BASE_MS = 250;
export const DEFAULT_BACKOFF_CAP_MS = 30_000;

/**
 * Exponential backoff with full jitter: a random delay in
 * [0, min(cap, base * 2^attempt)). Full jitter spreads a fleet's reconnects
 * after an outage instead of having every device retry in step.
 */
export function fullJitterBackoff(
  attempt: number,
  random: () => number,
  baseMs = DEFAULT_BACKOFF_BASE_MS,
  capMs = DEFAULT_BACKOFF_CAP_MS,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
