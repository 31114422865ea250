import type { HealthCompareReply, HealthCompareRequest } from '@rampart/contracts';
import type { FailuresRepository } from '../ingest/failures.repository.js';
import type { StabilityRepository } from '../stability/stability.repository.js';
import { DEFAULT_CRASH_RATE_TEST, compareCrashRates } from './crash-rate-test.js';

/**
 * The rollout gates' question, answered from stored crash reports and each
 * cohort's exposure: the device-hours the caller states, or else those the
 * devices' uptime heartbeats add up to.
 */
export class HealthService {
  constructor(
    private readonly repository: FailuresRepository,
    private readonly stability: StabilityRepository,
  ) {}

  async compare(request: HealthCompareRequest): Promise<HealthCompareReply> {
    const since = new Date(request.since);
    const { tenantId, component, candidate, baseline } = request;
    const exposure = (cohort: HealthCompareRequest['candidate']): Promise<number> =>
      cohort.deviceHours === undefined
        ? this.stability.operatingHours(tenantId, component, cohort.version, since, cohort.deviceIds)
        : Promise.resolve(cohort.deviceHours);
    const [candidateCrashes, baselineCrashes, candidateHours, baselineHours] = await Promise.all([
      this.repository.crashCount(tenantId, component, candidate.version, since, candidate.deviceIds),
      this.repository.crashCount(tenantId, component, baseline.version, since, baseline.deviceIds),
      exposure(candidate),
      exposure(baseline),
    ]);
    const answer = compareCrashRates(
      { crashes: candidateCrashes, deviceHours: candidateHours },
      { crashes: baselineCrashes, deviceHours: baselineHours },
      {
        ...DEFAULT_CRASH_RATE_TEST,
        ...(request.alpha === undefined ? {} : { alpha: request.alpha }),
        ...(request.toleratedRatio === undefined ? {} : { toleratedRatio: request.toleratedRatio }),
      },
    );
    return {
      verdict: answer.verdict,
      candidateCrashes,
      baselineCrashes,
      pValue: answer.pValue,
      rateCandidate: answer.rateNew,
      rateBaseline: answer.rateBaseline,
      reason: answer.reason,
      test: answer.test,
    };
  }
}
