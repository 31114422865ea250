import type { Clock, Job, Logger } from '@rampart/service-kit';
import { dayOf } from './partitions.js';
import type { ReadingsRepository } from './readings.repository.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Partitions are made this many days ahead so a batch rarely waits on DDL. */
const DAYS_AHEAD = 2;

/** Keeps partitions ahead of time and drops the ones past retention: once before the service listens, then as a job. */
export class RetentionJob implements Job {
  readonly name = 'partition maintenance';

  constructor(
    private readonly repository: ReadingsRepository,
    private readonly clock: Clock,
    private readonly retentionDays: number,
    readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  async runOnce(): Promise<string[]> {
    const today = dayOf(this.clock.now());
    const days = [];
    for (let i = -1; i <= DAYS_AHEAD; i++) days.push(today + i * DAY_MS);
    await this.repository.partitions.ensure(days);
    const dropped = await this.repository.partitions.dropExpired(this.clock.now(), this.retentionDays);
    if (dropped.length > 0) this.logger.info({ dropped, retentionDays: this.retentionDays }, 'expired partitions dropped');
    return dropped;
  }

  run(): Promise<string[]> {
    return this.runOnce();
  }

  onError(error: unknown): void {
    this.logger.error({ err: error }, 'partition maintenance failed');
  }
}
