import type { DeviceTelemetry } from '@rampart/contracts';

const BASE_METRICS = ['temperature_c', 'humidity_pct', 'battery_v', 'rssi_dbm', 'uptime_s', 'heap_free_kb', 'cpu_pct', 'voltage_v'];

/** Metric names for a reading with `count` metrics (extra ones are `sensor_N`). */
export function metricNames(count: number): string[] {
  const names = BASE_METRICS.slice(0, count);
  for (let i = names.length; i < count; i++) names.push(`sensor_${i}`);
  return names;
}

/**
 * Plausible sensor readings that drift slowly, so aggregates and charts look
 * like a fleet's; randomness is injected so tests are repeatable.
 */
export class TelemetrySource {
  private readonly names: string[];
  private readonly values: number[];
  private seq = 0;

  constructor(
    metricCount: number,
    private readonly random: () => number,
    /** Where numbering starts: a device that restarts must not reuse a sequence number. */
    firstSeq = 0,
  ) {
    this.names = metricNames(metricCount);
    this.values = this.names.map(() => 20 + random() * 10);
    this.seq = firstSeq;
  }

  /** The next sequence number that will be used. */
  get nextSeq(): number {
    return this.seq;
  }

  next(now: number): DeviceTelemetry {
    const metrics: Record<string, number> = {};
    this.names.forEach((name, i) => {
      const drifted = (this.values[i] ?? 0) + (this.random() - 0.5) * 0.2;
      this.values[i] = drifted;
      metrics[name] = Math.round(drifted * 1000) / 1000;
    });
    return { seq: this.seq++, ts: now, metrics };
  }

  /** A reading with given metrics (an app's), numbered in the same sequence. */
  reading(now: number, metrics: Record<string, number>): DeviceTelemetry {
    return { seq: this.seq++, ts: now, metrics };
  }
}
