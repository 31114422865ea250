/** When a bucket's recent reports count as a spike. */
export interface SpikeRule {
  /** The recent window, and the baseline window before it. */
  readonly windowMs: number;
  readonly baselineMs: number;
  /** At least this many reports in the window … */
  readonly minReports: number;
  /** … and this many times the baseline's rate over the same length of time. */
  readonly factor: number;
}

export const DEFAULT_SPIKE_RULE: SpikeRule = { windowMs: 5 * 60_000, baselineMs: 60 * 60_000, minReports: 10, factor: 5 };

/**
 * A spike: many reports now against few before. A bucket that is new within
 * the baseline spikes on the minimum alone (its `new bucket` event has
 * already gone out). The baseline rate is scaled to the window's length.
 */
export function isSpike(recent: number, baseline: number, rule: SpikeRule): boolean {
  if (recent < rule.minReports) return false;
  const expected = (baseline * rule.windowMs) / rule.baselineMs;
  return recent >= rule.factor * Math.max(expected, 1);
}
