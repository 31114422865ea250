import { MAX_HEARTBEAT_INTERVAL_MS, type ReceivedHeartbeat } from '@rampart/contracts';

export const HOUR_MS = 3_600_000;

/** Operating time of one component version on one device within one UTC hour. */
export interface DeviceHourSlice {
  readonly deviceId: string;
  readonly tenantId: string | null;
  readonly seq: number;
  /** Start of the hour, ms since the epoch. */
  readonly hour: number;
  readonly component: string;
  readonly version: string;
  readonly operatingMs: number;
}

/**
 * A heartbeat's running time, cut at UTC hour boundaries, once per
 * component it ran. The device's clock is not trusted to place the
 * interval in the future: it ends no later than the gateway received it,
 * and keeps its length (at most `MAX_HEARTBEAT_INTERVAL_MS`).
 */
export function heartbeatSlices(received: ReceivedHeartbeat): DeviceHourSlice[] {
  const { heartbeat } = received;
  const length = Math.min(heartbeat.to - heartbeat.from, MAX_HEARTBEAT_INTERVAL_MS);
  const to = Math.min(heartbeat.to, received.receivedAt);
  const from = Math.max(0, to - length);
  const components = new Map(heartbeat.running.map((r) => [`${r.component}\u0000${r.version}`, r]));
  const slices: DeviceHourSlice[] = [];
  for (let start = from; start < to;) {
    const hour = Math.floor(start / HOUR_MS) * HOUR_MS;
    const end = Math.min(to, hour + HOUR_MS);
    for (const { component, version } of components.values()) {
      slices.push({
        deviceId: received.deviceId,
        tenantId: received.tenantId,
        seq: heartbeat.seq,
        hour,
        component,
        version,
        operatingMs: end - start,
      });
    }
    start = end;
  }
  return slices;
}
