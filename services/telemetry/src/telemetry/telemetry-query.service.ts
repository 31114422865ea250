import type { DeviceLatestReply, IngestStatsReply } from '@rampart/contracts';
import type { Clock } from '@rampart/service-kit';
import type { AggregateBucket, DeviceLastSeen, MetricPoint, ReadingsRepository } from './readings.repository.js';

/** Default query window when a caller gives no `from`. */
export const DEFAULT_WINDOW_MS = 60 * 60 * 1000;

export class QueryRangeError extends Error {
  override readonly name = 'QueryRangeError';
}

/** Read side of the telemetry service: defaults and checks, then the repository. */
export class TelemetryQueryService {
  constructor(
    private readonly repository: ReadingsRepository,
    private readonly clock: Clock,
  ) {}

  private window(from: number | undefined, to: number | undefined): { from: number; to: number } {
    const end = to ?? this.clock.now() + 1;
    const start = from ?? end - DEFAULT_WINDOW_MS;
    if (start >= end) throw new QueryRangeError('`from` must be before `to`');
    return { from: start, to: end };
  }

  async latest(deviceId: string): Promise<DeviceLatestReply> {
    const { lastSeen, metrics } = await this.repository.latest(deviceId);
    return { deviceId, lastSeen, metrics };
  }

  async range(deviceId: string, metric: string, from: number | undefined, to: number | undefined, limit: number): Promise<MetricPoint[]> {
    const w = this.window(from, to);
    return this.repository.range(deviceId, metric, w.from, w.to, limit);
  }

  async aggregate(metric: string, from: number | undefined, to: number | undefined, bucketSeconds: number): Promise<AggregateBucket[]> {
    const w = this.window(from, to);
    return this.repository.aggregate(metric, w.from, w.to, bucketSeconds);
  }

  lastSeen(limit: number, offset: number): Promise<DeviceLastSeen[]> {
    return this.repository.lastSeen(limit, offset);
  }

  stats(): Promise<IngestStatsReply> {
    return this.repository.totals();
  }
}
