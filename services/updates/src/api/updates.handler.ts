import { Controller, Inject } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import {
  Subject,
  type CohortDevicesReply,
  type CohortDevicesRequest,
  type UpdateRootReply,
  type UpdateRootRequest,
} from '@rampart/contracts';
import { FleetService } from '../fleet/fleet.service.js';
import { TenantMetadata } from '../tuf/tenant-metadata.js';

/** Bus requests; the transport has already validated them against the contracts. */
@Controller()
export class UpdatesHandler {
  constructor(
    @Inject(FleetService) private readonly fleet: FleetService,
    @Inject(TenantMetadata) private readonly metadata: TenantMetadata,
  ) {}

  /** The devices of a group or a deployment, for the failures service's cohort views. */
  @MessagePattern(Subject.updatesCohortDevices)
  async cohortDevices(request: CohortDevicesRequest): Promise<CohortDevicesReply> {
    return { deviceIds: await this.fleet.cohortDevices(request.tenantId, request) };
  }

  /** The tenant's current root, which the attestation service hands out with a claim for the device to pin. */
  @MessagePattern(Subject.updatesRootGet)
  async root(request: UpdateRootRequest): Promise<UpdateRootReply> {
    return { root: await this.metadata.currentRoot(request.tenantId) };
  }
}
