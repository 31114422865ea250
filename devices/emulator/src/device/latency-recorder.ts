/**
 * Keeps a bounded uniform sample of latencies (reservoir sampling), so a
 * long run's percentiles cost fixed memory.
 */
export class LatencyRecorder {
  private readonly samples: number[] = [];
  private seen = 0;

  constructor(
    private readonly capacity: number,
    private readonly random: () => number,
  ) {}

  record(ms: number): void {
    this.seen++;
    if (this.samples.length < this.capacity) {
      this.samples.push(ms);
      return;
    }
    const slot = Math.floor(this.random() * this.seen);
    if (slot < this.capacity) this.samples[slot] = ms;
  }

  merge(other: LatencyRecorder): void {
    for (const sample of other.samples) this.record(sample);
  }

  get count(): number {
    return this.seen;
  }

  percentile(p: number): number | null {
    if (this.samples.length === 0) return null;
    const sorted = [...this.samples].sort((a, b) => a - b);
    const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[index] ?? null;
  }
}
