import { ErrorCode, type DeviceLatestReply, type IngestStatsReply } from '@rampart/contracts';
import { DomainError, type Clock } from '@rampart/service-kit';
import type { AggregateBucket, DeviceLastSeen, MetricPoint, ReadingsRepository } from './readings.repository.js';

/** Default query window when a caller gives no `from`. */
export const DEFAULT_WINDOW_MS = 60 * 60 * 1000;

export class QueryRangeError extends DomainError {
  override readonly name = 'QueryRangeError';
  readonly code = ErrorCode.badRequest;
}

/** The device is not one of the caller's tenant's (unknown and another tenant's look the same). */
export class DeviceNotFoundError extends DomainError {
  override readonly name = 'DeviceNotFoundError';
  readonly code = ErrorCode.notFound;
  constructor(readonly deviceId: string) {
    super(`no device ${deviceId} has sent readings to this tenant`);
  }
}

/**
 * Read side of the telemetry service: defaults and checks, then the
 * repository. What the REST API asks is scoped to the caller's tenant; the
 * bus queries (other services, trusted) see every device.
 */
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

  private async tenantDevice(tenantId: string, deviceId: string): Promise<void> {
    if (!(await this.repository.isTenantDevice(tenantId, deviceId))) throw new DeviceNotFoundError(deviceId);
  }

  async tenantLatest(tenantId: string, deviceId: string): Promise<DeviceLatestReply> {
    await this.tenantDevice(tenantId, deviceId);
    return this.latest(deviceId);
  }

  async latest(deviceId: string): Promise<DeviceLatestReply> {
    const { lastSeen, metrics } = await this.repository.latest(deviceId);
    return { deviceId, lastSeen, metrics };
  }

  async range(
    tenantId: string,
    deviceId: string,
    metric: string,
    from: number | undefined,
    to: number | undefined,
    limit: number,
  ): Promise<MetricPoint[]> {
    const w = this.window(from, to);
    await this.tenantDevice(tenantId, deviceId);
    return this.repository.range(deviceId, metric, w.from, w.to, limit);
  }

  async aggregate(
    tenantId: string,
    metric: string,
    from: number | undefined,
    to: number | undefined,
    bucketSeconds: number,
  ): Promise<AggregateBucket[]> {
    const w = this.window(from, to);
    return this.repository.aggregate(tenantId, metric, w.from, w.to, bucketSeconds);
  }

  lastSeen(tenantId: string, limit: number, offset: number): Promise<DeviceLastSeen[]> {
    return this.repository.lastSeen(tenantId, limit, offset);
  }

  /** The platform's totals (bus), or one tenant's (REST). */
  stats(tenantId?: string): Promise<IngestStatsReply> {
    return this.repository.totals(tenantId);
  }
}
