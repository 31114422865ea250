export const DEFAULT_BACKOFF_BASE_MS = 250;
export const DEFAULT_BACKOFF_CAP_MS = 60_000;
/**
 * After losing a connection it had, a device waits a random time in
 * [0, this) before its first retry. A broker restart drops the whole fleet
 * at once; spread over 20 s, no second carries much more than 5 % of the
 * reconnects (the goal is at most 10 %), however short the outage was.
 */
export const DEFAULT_RECONNECT_SPREAD_MS = 20_000;

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

/**
 * The delay before retry number `attempt` (0-based) after a connection that
 * was up is lost: full jitter over the reconnect spread first, then over
 * windows doubling from it up to the cap.
 */
export function reconnectBackoff(
  attempt: number,
  random: () => number,
  spreadMs = DEFAULT_RECONNECT_SPREAD_MS,
  capMs = DEFAULT_BACKOFF_CAP_MS,
): number {
  return fullJitterBackoff(attempt, random, spreadMs, Math.max(capMs, spreadMs));
}
