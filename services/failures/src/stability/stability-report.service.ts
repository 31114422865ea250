import type { StabilityCohort } from '@rampart/contracts';
import type { Clock } from '@rampart/service-kit';
import type { CohortDevices, CohortSelector } from '../cohorts/cohort-devices.js';
import { cohortWindow } from '../cohorts/cohort-window.js';
import type { StabilityRepository } from './stability.repository.js';

/** Stability figures look back this far unless the query says otherwise. */
export const DEFAULT_STABILITY_WINDOW_DAYS = 7;

/** Crash-free devices and hours per version of a component, of a tenant (or of one of its cohorts). */
export class StabilityReport {
  constructor(
    private readonly repository: StabilityRepository,
    private readonly cohorts: CohortDevices,
    private readonly clock: Clock,
  ) {}

  /** `version`: one version, or several separated by commas; every version seen if omitted. */
  async of(
    tenantId: string,
    q: CohortSelector & { component: string; version?: string | undefined; from?: Date | undefined; to?: Date | undefined },
  ): Promise<{ component: string; since: number; until: number; cohorts: StabilityCohort[] }> {
    const { since, until } = cohortWindow(q, DEFAULT_STABILITY_WINDOW_DAYS, new Date(this.clock.now()));
    const versions = q.version
      ?.split(',')
      .map((v) => v.trim())
      .filter((v) => v.length > 0);
    const deviceIds = await this.cohorts.of(tenantId, q);
    const cohorts = await this.repository.cohorts({ tenantId, component: q.component, since, until, versions, deviceIds });
    return { component: q.component, since: since.getTime(), until: until.getTime(), cohorts };
  }
}
