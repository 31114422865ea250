import { Controller, Inject } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { Subject, type HealthCompareReply, type HealthCompareRequest } from '@rampart/contracts';
import { HealthService } from '../health/health.service.js';

/** Bus requests; the transport has already validated them against the contracts. */
@Controller()
export class FailuresHandler {
  constructor(@Inject(HealthService) private readonly health: HealthService) {}

  @MessagePattern(Subject.failuresHealthCompare)
  compare(request: HealthCompareRequest): Promise<HealthCompareReply> {
    return this.health.compare(request);
  }
}
