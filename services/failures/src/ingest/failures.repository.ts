import { ErrorCode, isInstantInRange, type BucketCount } from '@rampart/contracts';
import { DomainError } from '@rampart/service-kit';
import type { DataSource } from 'typeorm';
import { CRASH_KINDS } from '../stability/stability.repository.js';

/** One report, normalised from either source, ready to store. */
export interface FailureRow {
  /** Idempotency key: `<deviceId>:<seq>` for device reports, `attestation:<eventId>` for refusals. */
  readonly reportKey: string;
  readonly deviceId: string;
  readonly tenantId: string | null;
  readonly kind: string;
  readonly component: string;
  readonly version: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly message: string;
  readonly frames: ReadonlyArray<{ function: string; file: string; line: number; column: number }>;
  readonly uptimeMs: number | null;
  readonly detail: Record<string, unknown> | null;
  readonly occurredAt: number;
  readonly receivedAt: number;
  readonly bucket: string;
  readonly title: string;
}

export interface StoredBatch {
  /** Reports newly stored (a redelivered one is not counted again). */
  readonly stored: number;
  /** Buckets this batch created. */
  readonly newBuckets: ReadonlyArray<{ signature: string; tenantId: string | null; title: string }>;
}

export interface ReportFilter {
  readonly from?: Date;
  readonly to?: Date;
  readonly deviceId?: string;
  readonly bucket?: string;
  readonly version?: string;
}

export interface BucketRow {
  readonly signature: string;
  readonly title: string;
  readonly kind: string;
  readonly component: string;
  readonly version: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly reports: number;
  readonly devices: number;
}

export interface ReportRow {
  readonly reportKey: string;
  readonly deviceId: string;
  readonly kind: string;
  readonly component: string;
  readonly version: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly message: string;
  readonly frames: unknown;
  readonly uptimeMs: number | null;
  readonly detail: unknown;
  readonly occurredAt: string;
  readonly receivedAt: string;
  readonly bucket: string;
}

interface BucketSqlRow {
  signature: string;
  title: string;
  kind: string;
  component: string;
  version: string;
  exit_code: number | null;
  signal: string | null;
  first_seen: Date;
  last_seen: Date;
  reports: string;
  devices: string;
}

interface ReportSqlRow {
  report_key: string;
  device_id: string;
  kind: string;
  component: string;
  version: string;
  exit_code: number | null;
  signal: string | null;
  message: string;
  frames: unknown;
  uptime_ms: string | null;
  detail: unknown;
  occurred_at: Date;
  received_at: Date;
  bucket: string;
}

const BUCKET_COLUMNS = `signature, title, kind, component, version, exit_code, signal, first_seen, last_seen, reports::text, devices::text`;

function bucketRow(r: BucketSqlRow): BucketRow {
  return {
    signature: r.signature,
    title: r.title,
    kind: r.kind,
    component: r.component,
    version: r.version,
    exitCode: r.exit_code,
    signal: r.signal,
    firstSeen: new Date(r.first_seen).toISOString(),
    lastSeen: new Date(r.last_seen).toISOString(),
    reports: Number(r.reports),
    devices: Number(r.devices),
  };
}

function reportRow(r: ReportSqlRow): ReportRow {
  return {
    reportKey: r.report_key,
    deviceId: r.device_id,
    kind: r.kind,
    component: r.component,
    version: r.version,
    exitCode: r.exit_code,
    signal: r.signal,
    message: r.message,
    frames: r.frames,
    uptimeMs: r.uptime_ms === null ? null : Number(r.uptime_ms),
    detail: r.detail,
    occurredAt: new Date(r.occurred_at).toISOString(),
    receivedAt: new Date(r.received_at).toISOString(),
    bucket: r.bucket,
  };
}

function encodeCursor(at: Date, key: string): string {
  return Buffer.from(JSON.stringify([at.toISOString(), key])).toString('base64url');
}

/** What a report key is made of (see the ingest): printable, bounded. */
const CURSOR_KEY = /^[\x20-\x7e]{1,200}$/;

function decodeCursor(cursor: string): { at: Date; key: string } | null {
  try {
    const [at, key] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const date = new Date(at);
    // A cursor is only base64url from outside: a forged one must not carry a date PostgreSQL cannot hold or a NUL.
    return isInstantInRange(date) && typeof key === 'string' && CURSOR_KEY.test(key) ? { at: date, key } : null;
  } catch {
    return null;
  }
}

export class BadCursorError extends DomainError {
  override readonly name = 'BadCursorError';
  readonly code = ErrorCode.badRequest;
}

/** All SQL of the failures service. */
export class FailuresRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Stores a batch in one statement (one round trip, atomic): the reports
   * not seen before, their buckets' counts and distinct devices, and what
   * rate limiting dropped per device. A report stored earlier (redelivery)
   * changes nothing, so counts are exact however often a batch is retried.
   */
  async storeBatch(rows: readonly FailureRow[], dropped: ReadonlyMap<string, number>): Promise<StoredBatch> {
    const input = rows.map((r) => ({
      report_key: r.reportKey,
      device_id: r.deviceId,
      tenant_id: r.tenantId,
      kind: r.kind,
      component: r.component,
      version: r.version,
      exit_code: r.exitCode,
      signal: r.signal,
      message: r.message,
      frames: r.frames,
      uptime_ms: r.uptimeMs,
      detail: r.detail,
      occurred_at: new Date(r.occurredAt).toISOString(),
      received_at: new Date(r.receivedAt).toISOString(),
      bucket: r.bucket,
      title: r.title,
    }));
    const result: Array<{
      signature: string | null;
      tenant_id: string | null;
      title: string | null;
      created: boolean | null;
      stored: string;
    }> = await this.dataSource.query(
      `WITH input AS (
           SELECT DISTINCT ON (report_key) * FROM jsonb_to_recordset($1::jsonb) AS r(
             report_key text, device_id text, tenant_id text, kind text, component text, version text, exit_code integer,
             signal text, message text, frames jsonb, uptime_ms bigint, detail jsonb, occurred_at timestamptz,
             received_at timestamptz, bucket text, title text)
         ), stored AS (
           INSERT INTO failures.reports (report_key, device_id, tenant_id, kind, component, version, exit_code, signal, message,
                                         frames, uptime_ms, detail, occurred_at, received_at, bucket)
           SELECT report_key, device_id, tenant_id, kind, component, version, exit_code, signal, message,
                  frames, uptime_ms, detail, occurred_at, received_at, bucket FROM input
           ON CONFLICT (report_key) DO NOTHING
           RETURNING report_key, bucket, device_id, occurred_at
         ), new_devices AS (
           INSERT INTO failures.bucket_devices (signature, device_id)
           SELECT DISTINCT bucket, device_id FROM stored
           ON CONFLICT DO NOTHING
           RETURNING signature
         ), per_bucket AS (
           SELECT s.bucket, min(s.occurred_at) AS first_seen, max(s.occurred_at) AS last_seen, count(*) AS reports,
                  (SELECT count(*) FROM new_devices d WHERE d.signature = s.bucket) AS devices
             FROM stored s GROUP BY s.bucket
         ), buckets AS (
           INSERT INTO failures.buckets (signature, tenant_id, kind, component, version, exit_code, signal, title, first_seen, last_seen, reports, devices)
           SELECT p.bucket, i.tenant_id, i.kind, i.component, i.version, i.exit_code, i.signal, i.title, p.first_seen, p.last_seen, p.reports, p.devices
             FROM per_bucket p JOIN LATERAL (SELECT * FROM input WHERE input.bucket = p.bucket LIMIT 1) i ON true
           ON CONFLICT (signature) DO UPDATE SET
             first_seen = least(failures.buckets.first_seen, excluded.first_seen),
             last_seen = greatest(failures.buckets.last_seen, excluded.last_seen),
             reports = failures.buckets.reports + excluded.reports,
             devices = failures.buckets.devices + excluded.devices
           RETURNING signature, tenant_id, title, (xmax = 0) AS created
         ), drops AS (
           INSERT INTO failures.dropped (device_id, dropped, last_dropped_at)
           SELECT key, value::bigint, now() FROM jsonb_each_text($2::jsonb)
           ON CONFLICT (device_id) DO UPDATE SET dropped = failures.dropped.dropped + excluded.dropped, last_dropped_at = now()
         )
         SELECT b.signature, b.tenant_id, b.title, b.created, (SELECT count(*) FROM stored)::text AS stored
           FROM (SELECT 1) one LEFT JOIN buckets b ON true`,
      [JSON.stringify(input), JSON.stringify(Object.fromEntries(dropped))],
    );
    return {
      stored: Number(result[0]?.stored ?? 0),
      newBuckets: result
        .filter((r) => r.created === true && r.signature !== null)
        .map((r) => ({ signature: r.signature!, tenantId: r.tenant_id, title: r.title ?? '' })),
    };
  }

  /**
   * Retention: reports older than `days` go; buckets keep their counts and
   * first/last seen until nothing has hit them for `days`, then they go with
   * their device lists (a bucket hit again later starts afresh).
   */
  async deleteOlderThan(days: number): Promise<{ reports: number; buckets: number }> {
    const [, reports]: [unknown[], number] = await this.dataSource.query(
      `DELETE FROM failures.reports WHERE occurred_at < now() - make_interval(days => $1)`,
      [days],
    );
    const rows: Array<{ n: string }> = await this.dataSource.query(
      `WITH gone AS (
           DELETE FROM failures.buckets WHERE last_seen < now() - make_interval(days => $1) RETURNING signature
         ), devices AS (
           DELETE FROM failures.bucket_devices d USING gone WHERE d.signature = gone.signature
         )
         SELECT count(*)::text AS n FROM gone`,
      [days],
    );
    return { reports, buckets: Number(rows[0]?.n ?? 0) };
  }

  /** Reports per bucket since `recentFrom`, and in the baseline window before it, for buckets active recently. */
  async bucketActivity(
    recentFrom: Date,
    baselineFrom: Date,
  ): Promise<Array<{ signature: string; tenantId: string | null; title: string; recent: number; baseline: number }>> {
    const rows: Array<{ signature: string; tenant_id: string | null; title: string; recent: string; baseline: string }> =
      await this.dataSource.query(
        `SELECT b.signature, b.tenant_id, b.title,
              count(*) FILTER (WHERE r.occurred_at >= $1)::text AS recent,
              count(*) FILTER (WHERE r.occurred_at < $1)::text AS baseline
         FROM failures.reports r JOIN failures.buckets b ON b.signature = r.bucket
        WHERE r.occurred_at >= $2 AND b.last_seen >= $1
        GROUP BY b.signature, b.tenant_id, b.title`,
        [recentFrom, baselineFrom],
      );
    return rows.map((r) => ({
      signature: r.signature,
      tenantId: r.tenant_id,
      title: r.title,
      recent: Number(r.recent),
      baseline: Number(r.baseline),
    }));
  }

  /**
   * Claims the spike alert of a bucket for this window: true for exactly one
   * caller (one replica) per bucket per `windowMs`, however many check at once.
   */
  async claimSpikeAlert(signature: string, now: Date, windowMs: number): Promise<boolean> {
    // TypeORM answers an UPDATE with [rows, affected].
    const [, affected]: [unknown[], number] = await this.dataSource.query(
      `UPDATE failures.buckets SET spike_alerted_at = $2
        WHERE signature = $1 AND (spike_alerted_at IS NULL OR spike_alerted_at <= $2::timestamptz - make_interval(secs => $3))
        RETURNING signature`,
      [signature, now, windowMs / 1000],
    );
    return affected === 1;
  }

  /**
   * Buckets as some devices saw them in a window (a device group, a
   * deployment, a wave), from the stored reports: how many reports and
   * distinct devices, most reports first.
   */
  /** Distinct devices with a report of each kind in the window, among `deviceIds` if given. */
  async devicesByKind(
    tenantId: string,
    window: { since: Date; until: Date },
    filter: { deviceIds?: readonly string[] | undefined; version?: string | undefined },
  ): Promise<Record<string, number>> {
    const rows: Array<{ kind: string; devices: number }> = await this.dataSource.query(
      `SELECT kind, count(DISTINCT device_id)::int AS devices FROM failures.reports
        WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3
          AND ($4::text[] IS NULL OR device_id = ANY($4)) AND ($5::text IS NULL OR version = $5)
        GROUP BY kind`,
      [tenantId, window.since, window.until, filter.deviceIds === undefined ? null : [...filter.deviceIds], filter.version ?? null],
    );
    return Object.fromEntries(rows.map((r) => [r.kind, r.devices]));
  }

  async bucketsAmong(
    tenantId: string,
    window: { since: Date; until: Date },
    filter: { deviceIds?: readonly string[] | undefined; version?: string | undefined },
    limit: number,
  ): Promise<BucketCount[]> {
    const rows: Array<{
      signature: string;
      title: string;
      kind: string;
      component: string;
      version: string;
      reports: string;
      devices: string;
      first_seen: Date;
      last_seen: Date;
    }> = await this.dataSource.query(
      `SELECT b.signature, b.title, b.kind, b.component, b.version, r.reports::text, r.devices::text, r.first_seen, r.last_seen
         FROM (SELECT bucket, count(*) AS reports, count(DISTINCT device_id) AS devices,
                      min(occurred_at) AS first_seen, max(occurred_at) AS last_seen
                 FROM failures.reports
                WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3
                  AND ($4::text[] IS NULL OR device_id = ANY($4)) AND ($5::text IS NULL OR version = $5)
                GROUP BY bucket) r
         JOIN failures.buckets b ON b.signature = r.bucket
        ORDER BY r.reports DESC, b.signature
        LIMIT $6`,
      [tenantId, window.since, window.until, filter.deviceIds === undefined ? null : [...filter.deviceIds], filter.version ?? null, limit],
    );
    return rows.map((r) => ({
      signature: r.signature,
      title: r.title,
      kind: r.kind,
      component: r.component,
      version: r.version,
      reports: Number(r.reports),
      devices: Number(r.devices),
      firstSeen: new Date(r.first_seen).getTime(),
      lastSeen: new Date(r.last_seen).getTime(),
    }));
  }

  /** Counts for tests and stats: reports, buckets, dropped. */
  async totals(): Promise<{ reports: number; buckets: number; dropped: number }> {
    const rows: Array<{ reports: string; buckets: string; dropped: string }> = await this.dataSource.query(
      `SELECT (SELECT count(*) FROM failures.reports)::text AS reports, (SELECT count(*) FROM failures.buckets)::text AS buckets,
              (SELECT coalesce(sum(dropped), 0) FROM failures.dropped)::text AS dropped`,
    );
    const row = rows[0]!;
    return { reports: Number(row.reports), buckets: Number(row.buckets), dropped: Number(row.dropped) };
  }

  async buckets(tenantId: string, limit = 100, version?: string): Promise<BucketRow[]> {
    const rows: BucketSqlRow[] = await this.dataSource.query(
      `SELECT ${BUCKET_COLUMNS} FROM failures.buckets WHERE tenant_id = $1 AND ($2::text IS NULL OR version = $2) ORDER BY last_seen DESC LIMIT $3`,
      [tenantId, version ?? null, limit],
    );
    return rows.map(bucketRow);
  }

  async bucket(tenantId: string, signature: string): Promise<BucketRow | undefined> {
    const rows: BucketSqlRow[] = await this.dataSource.query(
      `SELECT ${BUCKET_COLUMNS} FROM failures.buckets WHERE tenant_id = $1 AND signature = $2`,
      [tenantId, signature],
    );
    return rows[0] === undefined ? undefined : bucketRow(rows[0]);
  }

  /**
   * Reports of one tenant, newest first, a page at a time: `next` is a
   * keyset cursor (time and key of the last row), so paging stays cheap and
   * exact however many reports there are.
   */
  async reports(
    tenantId: string,
    filter: ReportFilter,
    limit: number,
    after?: string,
  ): Promise<{ rows: ReportRow[]; next: string | null }> {
    const cursor = after === undefined ? null : decodeCursor(after);
    if (after !== undefined && cursor === null) throw new BadCursorError('`after` is not a cursor this service made');
    const rows: ReportSqlRow[] = await this.dataSource.query(
      `SELECT report_key, device_id, kind, component, version, exit_code, signal, message, frames, uptime_ms, detail,
              occurred_at, received_at, bucket
         FROM failures.reports
        WHERE tenant_id = $1
          AND ($2::timestamptz IS NULL OR occurred_at >= $2) AND ($3::timestamptz IS NULL OR occurred_at < $3)
          AND ($4::text IS NULL OR device_id = $4) AND ($5::text IS NULL OR bucket = $5) AND ($6::text IS NULL OR version = $6)
          AND ($7::timestamptz IS NULL OR (occurred_at, report_key) < ($7, $8))
        ORDER BY occurred_at DESC, report_key DESC
        LIMIT $9`,
      [
        tenantId,
        filter.from ?? null,
        filter.to ?? null,
        filter.deviceId ?? null,
        filter.bucket ?? null,
        filter.version ?? null,
        cursor?.at ?? null,
        cursor?.key ?? null,
        limit,
      ],
    );
    const mapped = rows.map(reportRow);
    const last = rows.at(-1);
    return {
      rows: mapped,
      next: rows.length === limit && last !== undefined ? encodeCursor(new Date(last.occurred_at), last.report_key) : null,
    };
  }

  /** Crashes (app crashes, watchdog resets, OS faults) of a component version in a time window, optionally for given devices only. */
  async crashCount(tenantId: string, component: string, version: string, since: Date, deviceIds?: readonly string[]): Promise<number> {
    const rows: Array<{ n: string }> = await this.dataSource.query(
      `SELECT count(*)::text AS n FROM failures.reports
        WHERE tenant_id = $1 AND component = $2 AND version = $3 AND occurred_at >= $4
          AND kind = ANY($6) AND ($5::text[] IS NULL OR device_id = ANY($5))`,
      [tenantId, component, version, since, deviceIds ?? null, CRASH_KINDS],
    );
    return Number(rows[0]?.n ?? 0);
  }
}
