import type { HealthCompareReply, HealthCompareRequest } from '@rampart/contracts';
import type { FailuresRepository } from '../ingest/failures.repository.js';
import { DEFAULT_CRASH_RATE_TEST, compareCrashRates } from './crash-rate-test.js';

/** The rollout gates' question, answered from stored crash reports and the exposure the caller knows. */
export class HealthService {
  constructor(private readonly repository: FailuresRepository) {}

  async compare(request: HealthCompareRequest): Promise<HealthCompareReply> {
    const since = new Date(request.since);
    const [candidateCrashes, baselineCrashes] = await Promise.all([
      this.repository.crashCount(request.tenantId, request.component, request.candidate.version, since, request.candidate.deviceIds),
      this.repository.crashCount(request.tenantId, request.component, request.baseline.version, since, request.baseline.deviceIds),
    ]);
    const answer = compareCrashRates(
      { crashes: candidateCrashes, deviceHours: request.candidate.deviceHours },
      { crashes: baselineCrashes, deviceHours: request.baseline.deviceHours },
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
