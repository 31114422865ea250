import type { StabilityCohort } from '@rampart/contracts';
import type { DataSource } from 'typeorm';
import { HOUR_MS, type DeviceHourSlice } from './heartbeat-slices.js';

/** Report kinds that count as a crash in crash-free figures and crash rates. */
export const CRASH_KINDS = ['app-crash', 'watchdog-reset', 'os-fault'] as const;
const CRASH_KIND_LIST = CRASH_KINDS.map((k) => `'${k}'`).join(', ');

/** The UTC hour a time falls in, whatever the session's time zone (hours are binned from the epoch). */
const hourOf = (timestamp: string) => `date_bin('1 hour', ${timestamp}, TIMESTAMPTZ '1970-01-01 00:00:00+00')`;

export interface StabilityFilter {
  readonly tenantId: string;
  readonly component: string;
  readonly since: Date;
  readonly until: Date;
  readonly versions?: readonly string[] | undefined;
  readonly deviceIds?: readonly string[] | undefined;
}

interface CohortSqlRow {
  version: string;
  devices: string;
  crashed_devices: string;
  operating_ms: string;
  crash_free_ms: string;
  crashes: string;
}

/**
 * Operating time per device, hour and component version, and the
 * crash-free figures computed from it with the stored crash reports.
 */
export class StabilityRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Adds heartbeats' time in one statement: heartbeats seen before (a
   * redelivery, a resend) add nothing, and no device-hour holds more than an
   * hour per component version, however many heartbeats a device invents.
   * Returns how many heartbeats were new.
   */
  async addOperatingTime(
    slices: readonly DeviceHourSlice[],
    heartbeats: ReadonlyArray<{ deviceId: string; seq: number }>,
  ): Promise<number> {
    const rows: Array<{ fresh: string }> = await this.dataSource.query(
      `WITH beats AS (
           SELECT DISTINCT device_id, seq FROM jsonb_to_recordset($2::jsonb) AS b(device_id text, seq bigint)
         ), fresh AS (
           INSERT INTO failures.heartbeats (device_id, seq, received_at)
           SELECT device_id, seq, now() FROM beats ORDER BY device_id, seq
           ON CONFLICT DO NOTHING
           RETURNING device_id, seq
         ), slices AS (
           SELECT s.* FROM jsonb_to_recordset($1::jsonb) AS s(device_id text, tenant_id text, seq bigint, hour timestamptz,
                                                                component text, version text, operating_ms bigint)
           JOIN fresh f ON f.device_id = s.device_id AND f.seq = s.seq
         ), added AS (
           INSERT INTO failures.device_hours (device_id, hour, component, version, tenant_id, operating_ms)
           SELECT device_id, hour, component, version, max(tenant_id), least(sum(operating_ms), ${HOUR_MS})
             FROM slices GROUP BY device_id, hour, component, version
            ORDER BY device_id, hour, component, version
           ON CONFLICT (device_id, hour, component, version) DO UPDATE SET
             operating_ms = least(failures.device_hours.operating_ms + excluded.operating_ms, ${HOUR_MS}),
             tenant_id = coalesce(failures.device_hours.tenant_id, excluded.tenant_id)
         )
         SELECT count(*)::text AS fresh FROM fresh`,
      [
        JSON.stringify(
          slices.map((s) => ({
            device_id: s.deviceId,
            tenant_id: s.tenantId,
            seq: s.seq,
            hour: new Date(s.hour).toISOString(),
            component: s.component,
            version: s.version,
            operating_ms: s.operatingMs,
          })),
        ),
        JSON.stringify(heartbeats.map((h) => ({ device_id: h.deviceId, seq: h.seq }))),
      ],
    );
    return Number(rows[0]?.fresh ?? 0);
  }

  /**
   * Per version of a component in a window: devices that ran it or crashed
   * on it, those without a crash, operating hours, the share of operating
   * time in device-hours without a crash (Memfault's crash-free hours), and
   * crashes. A crash is a stored report of a crash kind, placed in the
   * device-hour it happened in.
   */
  async cohorts(filter: StabilityFilter): Promise<StabilityCohort[]> {
    const rows: CohortSqlRow[] = await this.dataSource.query(
      `WITH hours AS (
           SELECT device_id, hour, version, operating_ms FROM failures.device_hours
            WHERE tenant_id = $1 AND component = $2 AND hour >= ${hourOf('$3::timestamptz')}
              AND hour < $4 AND ($5::text[] IS NULL OR version = ANY($5)) AND ($6::text[] IS NULL OR device_id = ANY($6))
         ), crashes AS (
           SELECT r.device_id, ${hourOf('r.occurred_at')} AS hour, r.version, count(*) AS n FROM failures.reports r
            WHERE r.tenant_id = $1 AND r.component = $2 AND r.occurred_at >= $3 AND r.occurred_at < $4
              AND r.kind IN (${CRASH_KIND_LIST})
              AND ($5::text[] IS NULL OR r.version = ANY($5)) AND ($6::text[] IS NULL OR r.device_id = ANY($6))
            GROUP BY 1, 2, 3
         ), device_hours AS (
           SELECT coalesce(h.device_id, c.device_id) AS device_id, coalesce(h.version, c.version) AS version,
                  coalesce(h.operating_ms, 0) AS operating_ms, coalesce(c.n, 0) AS crashes
             FROM hours h FULL JOIN crashes c ON c.device_id = h.device_id AND c.hour = h.hour AND c.version = h.version
         )
         SELECT version, count(DISTINCT device_id)::text AS devices,
                count(DISTINCT device_id) FILTER (WHERE crashes > 0)::text AS crashed_devices,
                sum(operating_ms)::text AS operating_ms,
                coalesce(sum(operating_ms) FILTER (WHERE crashes = 0), 0)::text AS crash_free_ms,
                sum(crashes)::text AS crashes
           FROM device_hours GROUP BY version ORDER BY version`,
      [
        filter.tenantId,
        filter.component,
        filter.since,
        filter.until,
        filter.versions === undefined ? null : [...filter.versions],
        filter.deviceIds === undefined ? null : [...filter.deviceIds],
      ],
    );
    return rows.map(cohortFromRow);
  }

  /** Device-hours a component version ran in a window (a rollout gate's exposure). */
  async operatingHours(tenantId: string, component: string, version: string, since: Date, deviceIds?: readonly string[]): Promise<number> {
    const rows: Array<{ ms: string | null }> = await this.dataSource.query(
      `SELECT sum(operating_ms)::text AS ms FROM failures.device_hours
        WHERE tenant_id = $1 AND component = $2 AND version = $3 AND hour >= ${hourOf('$4::timestamptz')}
          AND ($5::text[] IS NULL OR device_id = ANY($5))`,
      [tenantId, component, version, since, deviceIds === undefined ? null : [...deviceIds]],
    );
    return Number(rows[0]?.ms ?? 0) / HOUR_MS;
  }

  /** Retention: operating time and counted heartbeats older than `days`. */
  async deleteOlderThan(days: number): Promise<number> {
    const [, hours]: [unknown[], number] = await this.dataSource.query(
      `DELETE FROM failures.device_hours WHERE hour < now() - make_interval(days => $1)`,
      [days],
    );
    // A heartbeat older than the retention could only be resent by a device offline that long; its hour is gone anyway.
    const [, beats]: [unknown[], number] = await this.dataSource.query(
      `DELETE FROM failures.heartbeats WHERE received_at < now() - make_interval(days => $1)`,
      [days],
    );
    return hours + beats;
  }
}

function ratio(part: number, whole: number): number | null {
  return whole === 0 ? null : part / whole;
}

function cohortFromRow(row: CohortSqlRow): StabilityCohort {
  const devices = Number(row.devices);
  const crashFreeDevices = devices - Number(row.crashed_devices);
  const operatingMs = Number(row.operating_ms);
  const crashes = Number(row.crashes);
  const operatingHours = operatingMs / HOUR_MS;
  return {
    version: row.version,
    devices,
    crashFreeDevices,
    crashFreeDevicesRatio: ratio(crashFreeDevices, devices),
    operatingHours,
    crashFreeHoursRatio: ratio(Number(row.crash_free_ms), operatingMs),
    crashes,
    crashesPer1000Hours: operatingHours === 0 ? null : (crashes / operatingHours) * 1000,
  };
}
