import { Controller, Inject } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { Subject, type CohortDevicesReply, type CohortDevicesRequest } from '@rampart/contracts';
import { FleetService } from '../fleet/fleet.service.js';

/** Bus requests; the transport has already validated them against the contracts. */
@Controller()
export class UpdatesHandler {
  constructor(@Inject(FleetService) private readonly fleet: FleetService) {}

  /** The devices of a group or a deployment, for the failures service's cohort views. */
  @MessagePattern(Subject.updatesCohortDevices)
  async cohortDevices(request: CohortDevicesRequest): Promise<CohortDevicesReply> {
    return { deviceIds: await this.fleet.cohortDevices(request.tenantId, request) };
  }
}
