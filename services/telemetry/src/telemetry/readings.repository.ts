import type { TelemetryReading } from '@rampart/contracts';
import type { DataSource } from 'typeorm';
import { dayOf, Partitions } from './partitions.js';

export interface InsertResult {
  /** Readings (messages) newly stored; redelivered ones are not counted. */
  readonly readings: number;
  readonly rows: number;
}

export interface MetricPoint {
  readonly metric: string;
  readonly value: number;
  readonly ts: number;
}

export interface DeviceLastSeen {
  readonly deviceId: string;
  readonly lastSeen: number;
  readonly lastSeq: number;
  readonly readings: number;
}

export interface AggregateBucket {
  readonly start: number;
  readonly count: number;
  readonly devices: number;
  readonly min: number;
  readonly max: number;
  readonly avg: number;
}

export interface IngestTotals {
  readonly readingsStored: number;
  readonly rowsStored: number;
  readonly devices: number;
}

/**
 * All SQL of the telemetry service. A batch is one statement: rows go in
 * through `unnest` (one round trip, no per-row statements) with
 * ON CONFLICT DO NOTHING, and only the rows actually inserted update the
 * per-device counters, so redelivery never counts or stores twice.
 */
export class ReadingsRepository {
  readonly partitions: Partitions;

  constructor(private readonly dataSource: DataSource) {
    this.partitions = new Partitions(dataSource);
  }

  async insertBatch(readings: readonly TelemetryReading[]): Promise<InsertResult> {
    if (readings.length === 0) return { readings: 0, rows: 0 };
    const days = new Set<number>();
    const deviceIds: string[] = [];
    const metrics: string[] = [];
    const ts: number[] = [];
    const seqs: number[] = [];
    const values: number[] = [];
    const receivedAt: number[] = [];
    const tenantIds: Array<string | null> = [];
    for (const reading of readings) {
      days.add(dayOf(reading.ts));
      for (const [metric, value] of Object.entries(reading.metrics)) {
        deviceIds.push(reading.deviceId);
        metrics.push(metric);
        ts.push(reading.ts);
        seqs.push(reading.seq);
        values.push(value);
        receivedAt.push(reading.receivedAt);
        tenantIds.push(reading.tenantId ?? null);
      }
    }
    await this.partitions.ensure(days);
    const result = await this.dataSource.query<Array<{ readings: string; rows: string }>>(
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::bigint[], $5::float8[], $6::float8[], $7::text[])
           AS t(device_id, metric, ts_ms, seq, value, received_ms, tenant_id)
       ), tenants AS (
         SELECT device_id, max(tenant_id) AS tenant_id FROM input GROUP BY device_id
       ), inserted AS (
         INSERT INTO telemetry.readings (device_id, metric, ts, seq, value, received_at)
         SELECT device_id, metric, to_timestamp(ts_ms / 1000.0), seq, value, to_timestamp(received_ms / 1000.0) FROM input
         -- Key order: concurrent writers then take index locks in the same order and cannot deadlock.
         ORDER BY device_id, metric, ts_ms, seq
         ON CONFLICT DO NOTHING
         RETURNING device_id, seq, received_at
       ), per_device AS (
         SELECT device_id, max(received_at) AS last_seen, max(seq) AS last_seq,
                count(DISTINCT seq) AS readings, count(*) AS rows
           FROM inserted GROUP BY device_id
       ), upserted AS (
         INSERT INTO telemetry.device_last_seen AS d (device_id, tenant_id, last_seen, last_seq, readings, rows)
         SELECT p.device_id, t.tenant_id, last_seen, last_seq, readings, rows
           FROM per_device p JOIN tenants t USING (device_id) ORDER BY p.device_id
         ON CONFLICT (device_id) DO UPDATE SET
           -- The certificate names the tenant; a batch from a gateway that did not say keeps the one known.
           tenant_id = coalesce(excluded.tenant_id, d.tenant_id),
           last_seen = GREATEST(d.last_seen, excluded.last_seen),
           last_seq  = GREATEST(d.last_seq, excluded.last_seq),
           readings  = d.readings + excluded.readings,
           rows      = d.rows + excluded.rows
         RETURNING 1
       )
       SELECT coalesce(sum(readings), 0)::bigint AS readings, coalesce(sum(rows), 0)::bigint AS rows FROM per_device`,
      [deviceIds, metrics, ts, seqs, values, receivedAt, tenantIds],
    );
    const row = result[0];
    return { readings: Number(row?.readings ?? 0), rows: Number(row?.rows ?? 0) };
  }

  async latest(deviceId: string): Promise<{ lastSeen: number | null; metrics: MetricPoint[] }> {
    const seen = await this.dataSource.query<Array<{ last_seen: number }>>(
      `SELECT (extract(epoch FROM last_seen) * 1000)::float8 AS last_seen FROM telemetry.device_last_seen WHERE device_id = $1`,
      [deviceId],
    );
    const lastSeen = seen[0]?.last_seen ?? null;
    if (lastSeen === null) return { lastSeen: null, metrics: [] };
    const rows = await this.dataSource.query<Array<{ metric: string; value: number; ts: number }>>(
      `SELECT DISTINCT ON (metric) metric, value, (extract(epoch FROM ts) * 1000)::float8 AS ts
         FROM telemetry.readings WHERE device_id = $1
        ORDER BY metric, ts DESC`,
      [deviceId],
    );
    return { lastSeen: Math.round(lastSeen), metrics: rows.map((r) => ({ metric: r.metric, value: r.value, ts: Math.round(r.ts) })) };
  }

  async range(deviceId: string, metric: string, from: number, to: number, limit: number): Promise<MetricPoint[]> {
    const rows = await this.dataSource.query<Array<{ metric: string; value: number; ts: number }>>(
      `SELECT metric, value, (extract(epoch FROM ts) * 1000)::float8 AS ts FROM telemetry.readings
        WHERE device_id = $1 AND metric = $2 AND ts >= to_timestamp($3 / 1000.0) AND ts < to_timestamp($4 / 1000.0)
        ORDER BY ts LIMIT $5`,
      [deviceId, metric, from, to, limit],
    );
    return rows.map((r) => ({ metric: r.metric, value: r.value, ts: Math.round(r.ts) }));
  }

  /** Whether the tenant's devices include this one (it has sent readings under that tenant). */
  async isTenantDevice(tenantId: string, deviceId: string): Promise<boolean> {
    const rows = await this.dataSource.query<unknown[]>(
      `SELECT 1 FROM telemetry.device_last_seen WHERE device_id = $1 AND tenant_id = $2`,
      [deviceId, tenantId],
    );
    return rows.length > 0;
  }

  async lastSeen(tenantId: string, limit: number, offset: number): Promise<DeviceLastSeen[]> {
    const rows = await this.dataSource.query<Array<{ device_id: string; last_seen: number; last_seq: string; readings: string }>>(
      `SELECT device_id, (extract(epoch FROM last_seen) * 1000)::float8 AS last_seen, last_seq, readings
         FROM telemetry.device_last_seen WHERE tenant_id = $3 ORDER BY last_seen DESC, device_id LIMIT $1 OFFSET $2`,
      [limit, offset, tenantId],
    );
    return rows.map((r) => ({
      deviceId: r.device_id,
      lastSeen: Math.round(r.last_seen),
      lastSeq: Number(r.last_seq),
      readings: Number(r.readings),
    }));
  }

  /** One tenant's devices only. */
  async aggregate(tenantId: string, metric: string, from: number, to: number, bucketSeconds: number): Promise<AggregateBucket[]> {
    const rows = await this.dataSource.query<
      Array<{ start: number; count: string; devices: string; min: number; max: number; avg: number }>
    >(
      `SELECT (extract(epoch FROM date_bin(make_interval(secs => $4), ts, TIMESTAMPTZ 'epoch')) * 1000)::float8 AS start,
              count(*)::bigint AS count, count(DISTINCT device_id)::bigint AS devices,
              min(value) AS min, max(value) AS max, avg(value) AS avg
         FROM telemetry.readings
        WHERE metric = $1 AND ts >= to_timestamp($2 / 1000.0) AND ts < to_timestamp($3 / 1000.0)
          AND device_id IN (SELECT device_id FROM telemetry.device_last_seen WHERE tenant_id = $5)
        GROUP BY 1 ORDER BY 1`,
      [metric, from, to, bucketSeconds, tenantId],
    );
    return rows.map((r) => ({
      start: Math.round(r.start),
      count: Number(r.count),
      devices: Number(r.devices),
      min: r.min,
      max: r.max,
      avg: r.avg,
    }));
  }

  /** The platform's totals, or one tenant's. */
  async totals(tenantId?: string): Promise<IngestTotals> {
    const rows = await this.dataSource.query<Array<{ readings: string; rows: string; devices: string }>>(
      `SELECT coalesce(sum(readings), 0)::bigint AS readings, coalesce(sum(rows), 0)::bigint AS rows, count(*)::bigint AS devices
         FROM telemetry.device_last_seen WHERE $1::text IS NULL OR tenant_id = $1`,
      [tenantId ?? null],
    );
    const row = rows[0];
    return { readingsStored: Number(row?.readings ?? 0), rowsStored: Number(row?.rows ?? 0), devices: Number(row?.devices ?? 0) };
  }

  /** Readings stored for the given devices (used to reconcile a fleet run). */
  async storedForDevices(deviceIds: readonly string[]): Promise<IngestTotals> {
    const rows = await this.dataSource.query<Array<{ readings: string; rows: string; devices: string }>>(
      `SELECT coalesce(sum(readings), 0)::bigint AS readings, coalesce(sum(rows), 0)::bigint AS rows, count(*)::bigint AS devices
         FROM telemetry.device_last_seen WHERE device_id = ANY($1::text[])`,
      [deviceIds],
    );
    const row = rows[0];
    return { readingsStored: Number(row?.readings ?? 0), rowsStored: Number(row?.rows ?? 0), devices: Number(row?.devices ?? 0) };
  }
}
