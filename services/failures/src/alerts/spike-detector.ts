import type { Clock, Job, Logger } from '@rampart/service-kit';
import type { FailuresRepository } from '../ingest/failures.repository.js';
import type { AlertSink } from './alert-sink.js';
import { isSpike, type SpikeRule } from './spike-rule.js';

/**
 * Every `windowMs`, compares each recently active bucket's reports in the
 * last window with its baseline before, and alerts once per bucket per
 * window when the rule calls it a spike — once across all replicas: each
 * alert is claimed in the database first. Run as a job by the service host.
 */
export class SpikeDetector implements Job {
  readonly name = 'spike check';

  constructor(
    private readonly repository: FailuresRepository,
    private readonly alerts: AlertSink,
    private readonly rule: SpikeRule,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  get intervalMs(): number {
    return this.rule.windowMs;
  }

  run(): Promise<string[]> {
    return this.check(this.clock.now());
  }

  onError(error: unknown): void {
    this.logger.warn({ err: error }, 'spike check failed; it runs again');
  }

  /** One check at `now`; returns the spiking buckets' signatures. */
  async check(now: number): Promise<string[]> {
    const activity = await this.repository.bucketActivity(
      new Date(now - this.rule.windowMs),
      new Date(now - this.rule.windowMs - this.rule.baselineMs),
    );
    const spiked: string[] = [];
    for (const bucket of activity) {
      if (!isSpike(bucket.recent, bucket.baseline, this.rule)) continue;
      if (!(await this.repository.claimSpikeAlert(bucket.signature, new Date(now), this.rule.windowMs))) continue;
      spiked.push(bucket.signature);
      await this.alerts.send({ type: 'bucket.spiked', ...bucket, windowMs: this.rule.windowMs });
    }
    return spiked;
  }
}
