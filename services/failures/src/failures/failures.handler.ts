import { Controller, Inject } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import {
  Subject,
  type HealthCompareReply,
  type HealthCompareRequest,
  type StabilityQueryReply,
  type StabilityQueryRequest,
} from '@rampart/contracts';
import { HealthService } from '../health/health.service.js';
import { StabilityRepository } from '../stability/stability.repository.js';

/** Bus requests; the transport has already validated them against the contracts. */
@Controller()
export class FailuresHandler {
  constructor(
    @Inject(HealthService) private readonly health: HealthService,
    @Inject(StabilityRepository) private readonly stability: StabilityRepository,
  ) {}

  @MessagePattern(Subject.failuresHealthCompare)
  compare(request: HealthCompareRequest): Promise<HealthCompareReply> {
    return this.health.compare(request);
  }

  /** Crash-free figures for a set of devices (a device group, a deployment, a wave) or the whole tenant. */
  @MessagePattern(Subject.failuresStabilityQuery)
  async stabilityOf(request: StabilityQueryRequest): Promise<StabilityQueryReply> {
    const until = request.until ?? Date.now();
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
