import type { DeviceTelemetry } from '@rampart/contracts';

const BASE_METRICS = ['temperature_c', 'humidity_pct', 'battery_v', 'rssi_dbm', 'uptime_s', 'heap_free_kb', 'cpu_pct', 'voltage_v'];

/** Metric names for a reading with `count` metrics (extra ones are `sensor_N`). */
export function metricNames(count: number): string[] {
  const names = BASE_METRICS.slice(0, count);
  for (let i = names.length; i < count; i++) names.push(`sensor_${i}`);
  return names;
}

/**
 * Where a device's telemetry stands, as a value: the next sequence number
 * and the synthetic metrics' current values, which drift slowly so
 * aggregates and charts look like a fleet's.
 */
export interface TelemetryState {
  readonly names: readonly string[];
  readonly values: readonly number[];
  /** The next sequence number; a device that restarts must not reuse one. */
  readonly nextSeq: number;
}

/** `metricCount` synthetic metrics starting between 20 and 30, numbered from 0. */
export function initialTelemetry(metricCount: number, random: () => number): TelemetryState {
  const names = metricNames(metricCount);
  return { names, values: names.map(() => 20 + random() * 10), nextSeq: 0 };
}

/** The next synthetic reading (each metric drifted a little) and the telemetry after it. */
export function syntheticReading(
  telemetry: TelemetryState,
  now: number,
  random: () => number,
): { readonly reading: DeviceTelemetry; readonly telemetry: TelemetryState } {
  const metrics: Record<string, number> = {};
  const values = telemetry.names.map((name, i) => {
    const drifted = (telemetry.values[i] ?? 0) + (random() - 0.5) * 0.2;
    metrics[name] = Math.round(drifted * 1000) / 1000;
    return drifted;
  });
  return { reading: { seq: telemetry.nextSeq, ts: now, metrics }, telemetry: { ...telemetry, values, nextSeq: telemetry.nextSeq + 1 } };
}

/** A reading with given metrics (an app's), numbered in the same sequence. */
export function appReading(
  telemetry: TelemetryState,
  now: number,
  metrics: Readonly<Record<string, number>>,
): { readonly reading: DeviceTelemetry; readonly telemetry: TelemetryState } {
  return {
    reading: { seq: telemetry.nextSeq, ts: now, metrics: { ...metrics } },
    telemetry: { ...telemetry, nextSeq: telemetry.nextSeq + 1 },
  };
}
