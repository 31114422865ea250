import type { Meter } from '@opentelemetry/api';
import type { Job, Logger } from '@rampart/service-kit';
import type { DataSource } from 'typeorm';

/** OS versions reported at most (the most common first): a gauge label per version must stay bounded. */
const MAX_VERSIONS = 50;

/**
 * Fleet gauges from the attestation records: devices by state (attested =
 * last attestation passed; quarantined = last attestation failed, so they
 * hold no operational certificate; revoked) and attested devices by OS
 * version. Read from PostgreSQL every `intervalMs` and served from memory,
 * since a scrape must not wait on the database. Every replica reports the
 * whole fleet: aggregate with max(), not sum(). Refreshed once before the
 * service listens, then as a job.
 */
export class FleetGauges implements Job {
  readonly name = 'fleet gauges';
  private states: Record<'attested' | 'quarantined' | 'revoked', number> = { attested: 0, quarantined: 0, revoked: 0 };
  private versions: Array<{ version: string; devices: number }> = [];

  constructor(
    private readonly dataSource: DataSource,
    meter: Meter,
    private readonly logger: Logger,
    readonly intervalMs: number,
  ) {
    meter
      .createObservableGauge('rampart_fleet_devices', {
        description: 'Devices by attestation state (every replica reports the whole fleet)',
      })
      .addCallback((result) => {
        for (const [state, devices] of Object.entries(this.states)) result.observe(devices, { state });
      });
    meter
      .createObservableGauge('rampart_fleet_os_versions', { description: 'Attested devices by the OS version they attested with' })
      .addCallback((result) => {
        for (const v of this.versions) result.observe(v.devices, { version: v.version });
      });
  }

  run(): Promise<void> {
    return this.refresh();
  }

  onError(error: unknown): void {
    this.logger.warn({ err: error }, 'fleet gauges not refreshed');
  }

  async refresh(): Promise<void> {
    const [states]: Array<{ attested: number; quarantined: number; revoked: number }> = await this.dataSource.query(
      `SELECT count(*) FILTER (WHERE NOT revoked AND last_pass)::int AS attested,
              count(*) FILTER (WHERE NOT revoked AND last_pass = false)::int AS quarantined,
              count(*) FILTER (WHERE revoked)::int AS revoked
         FROM attestation.devices`,
    );
    const versions: Array<{ version: string; devices: number }> = await this.dataSource.query(
      `SELECT os_version AS version, count(*)::int AS devices FROM attestation.devices
        WHERE NOT revoked AND last_pass AND os_version IS NOT NULL
        GROUP BY os_version ORDER BY devices DESC, os_version LIMIT $1`,
      [MAX_VERSIONS],
    );
    this.states = states ?? { attested: 0, quarantined: 0, revoked: 0 };
    this.versions = versions;
  }
}
