import { Inject, Injectable } from '@nestjs/common';
import { LOGGER, SERVICE_CONFIG, type Job, type Logger } from '@rampart/service-kit';
import { FailuresRepository } from '../ingest/failures.repository.js';
import { StabilityRepository } from '../stability/stability.repository.js';
import type { FailuresConfig } from './failures.config.js';

/** How often failure data past retention is looked for. */
const RETENTION_CHECK_MS = 60 * 60 * 1000;

/** Deletes failure reports, buckets and operating-time rows older than the retention period. */
@Injectable()
export class FailureRetentionJob implements Job {
  readonly name = 'failure data retention';
  readonly intervalMs = RETENTION_CHECK_MS;

  constructor(
    @Inject(FailuresRepository) private readonly repository: FailuresRepository,
    @Inject(StabilityRepository) private readonly stability: StabilityRepository,
    @Inject(SERVICE_CONFIG) private readonly config: FailuresConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async run(): Promise<void> {
    const days = this.config.retentionDays;
    const deleted = await this.repository.deleteOlderThan(days);
    const operatingRows = await this.stability.deleteOlderThan(days);
    if (deleted.reports + deleted.buckets + operatingRows > 0) {
      this.logger.info({ ...deleted, operatingRows, days }, 'failure data past retention deleted');
    }
  }

  onError(error: unknown): void {
    this.logger.warn({ err: error }, 'failure report retention failed; it runs again');
  }
}
