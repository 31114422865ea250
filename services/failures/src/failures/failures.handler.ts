import { Controller, Inject } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import {
  Subject,
  type BucketsQueryReply,
  type BucketsQueryRequest,
  type HealthCompareReply,
  type HealthCompareRequest,
  type StabilityQueryReply,
  type StabilityQueryRequest,
} from '@rampart/contracts';
import { CLOCK, type Clock } from '@rampart/service-kit';
import { HealthService } from '../health/health.service.js';
import { FailuresRepository } from '../ingest/failures.repository.js';
import { StabilityRepository } from '../stability/stability.repository.js';

/** Bus requests; the transport has already validated them against the contracts. */
@Controller()
export class FailuresHandler {
  constructor(
    @Inject(HealthService) private readonly health: HealthService,
    @Inject(StabilityRepository) private readonly stability: StabilityRepository,
    @Inject(FailuresRepository) private readonly failures: FailuresRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Buckets as a set of devices saw them (a group, a deployment, a wave). */
  @MessagePattern(Subject.failuresBucketsQuery)
  async bucketsOf(request: BucketsQueryRequest): Promise<BucketsQueryReply> {
    const window = { since: new Date(request.since), until: new Date(request.until ?? this.clock.now()) };
    const filter = { deviceIds: request.deviceIds, version: request.version };
    const [buckets, devicesByKind] = await Promise.all([
      this.failures.bucketsAmong(request.tenantId, window, filter, request.limit ?? 100),
      this.failures.devicesByKind(request.tenantId, window, filter),
    ]);
    return { buckets, devicesByKind };
  }

  @MessagePattern(Subject.failuresHealthCompare)
  compare(request: HealthCompareRequest): Promise<HealthCompareReply> {
    return this.health.compare(request);
  }

  /** Crash-free figures for a set of devices (a device group, a deployment, a wave) or the whole tenant. */
  @MessagePattern(Subject.failuresStabilityQuery)
  async stabilityOf(request: StabilityQueryRequest): Promise<StabilityQueryReply> {
    const until = request.until ?? this.clock.now();
    const cohorts = await this.stability.cohorts({
      tenantId: request.tenantId,
      component: request.component,
      since: new Date(request.since),
      until: new Date(until),
      versions: request.versions,
      deviceIds: request.deviceIds,
    });
    return { component: request.component, since: request.since, until, cohorts };
  }
}
