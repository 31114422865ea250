import { ErrorCode } from '@rampart/contracts';
import { DomainError, type Clock } from '@rampart/service-kit';
import type { CohortDevices, CohortSelector } from '../cohorts/cohort-devices.js';
import { cohortWindow } from '../cohorts/cohort-window.js';
import type { BucketRow, FailuresRepository, ReportFilter, ReportRow } from '../ingest/failures.repository.js';

/** A cohort's bucket counts look back this far unless the query says otherwise. */
export const DEFAULT_BUCKET_WINDOW_DAYS = 30;

/** How many of a bucket's latest reports come with it. */
const LATEST_REPORTS = 20;

/** The tenant has no bucket with that signature; another tenant's bucket answers exactly like one that does not exist. */
export class BucketNotFoundError extends DomainError {
  override readonly name = 'BucketNotFoundError';
  readonly code = ErrorCode.notFound;
}

/** Failure buckets and reports of one tenant, for the REST API. */
export class FailureReportsService {
  constructor(
    private readonly repository: FailuresRepository,
    private readonly cohorts: CohortDevices,
    private readonly clock: Clock,
  ) {}

  /**
   * The tenant's buckets, most recently seen first; or, when the query names
   * a device group or a deployment, reports and distinct devices among its
   * devices in the window (default the last 30 days).
   */
  async buckets(
    tenantId: string,
    q: CohortSelector & { version?: string | undefined; limit: number; from?: Date | undefined; to?: Date | undefined },
  ) {
    const deviceIds = await this.cohorts.of(tenantId, q);
    if (deviceIds === undefined) return this.repository.buckets(tenantId, q.limit, q.version);
    return this.repository.bucketsAmong(tenantId, cohortWindow(q, DEFAULT_BUCKET_WINDOW_DAYS, new Date(this.clock.now())), { deviceIds, version: q.version }, q.limit);
  }

  /** One bucket with its latest reports; BucketNotFoundError if the tenant has no such bucket. */
  async bucket(tenantId: string, signature: string): Promise<BucketRow & { latest: ReportRow[] }> {
    const bucket = await this.repository.bucket(tenantId, signature);
    if (bucket === undefined) throw new BucketNotFoundError('no such bucket');
    const latest = await this.repository.reports(tenantId, { bucket: signature }, LATEST_REPORTS);
    return { ...bucket, latest: latest.rows };
  }

  /** One page of reports, newest first; `after` is the previous page's `next`. */
  reports(tenantId: string, filter: ReportFilter, limit: number, after?: string) {
    return this.repository.reports(tenantId, filter, limit, after);
  }
}
