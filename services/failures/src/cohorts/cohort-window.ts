export const DAY_MS = 86_400_000;

/** A time range a view counts over. */
export interface CohortWindow {
  readonly since: Date;
  readonly until: Date;
}

/**
 * The window a query asks for: it ends at `to` (default `now`, the caller's
 * injected clock, never the wall clock here) and starts at `from` (default
 * `defaultDays` before its end), so a query that names only its end still
 * counts over a whole default window.
 */
export function cohortWindow(range: { from?: Date | undefined; to?: Date | undefined }, defaultDays: number, now: Date): CohortWindow {
  const until = range.to ?? now;
  return { since: range.from ?? new Date(until.getTime() - defaultDays * DAY_MS), until };
}
