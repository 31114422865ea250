/**
 * Failure reports each device may store: a token bucket per device, so one
 * device in a crash loop cannot crowd out the rest of the fleet. What it
 * drops is counted per device (and stored), never silently lost.
 */
export class DeviceRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly burst: number,
    /** Devices remembered at once; the least recently seen are forgotten (they start full again). */
    private readonly maxDevices = 200_000,
  ) {}

  tryTake(deviceId: string, now: number): boolean {
    let bucket = this.buckets.get(deviceId);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxDevices) this.buckets.delete(this.buckets.keys().next().value!);
      bucket = { tokens: this.burst, at: now };
    } else {
      this.buckets.delete(deviceId);
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 60_000) * this.perMinute);
      bucket.at = now;
    }
    this.buckets.set(deviceId, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
