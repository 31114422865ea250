import { Controller, Inject } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { Subject, type DeviceLatestReply, type DeviceLatestRequest, type IngestStatsReply } from '@rampart/contracts';
import { TelemetryQueryService } from './telemetry-query.service.js';

/** Bus requests; the transport has already validated them against the contracts. */
@Controller()
export class TelemetryHandler {
  constructor(@Inject(TelemetryQueryService) private readonly queries: TelemetryQueryService) {}

  @MessagePattern(Subject.telemetryDeviceLatest)
  latest(request: DeviceLatestRequest): Promise<DeviceLatestReply> {
    return this.queries.latest(request.deviceId);
  }

  @MessagePattern(Subject.telemetryIngestStats)
  stats(): Promise<IngestStatsReply> {
    return this.queries.stats();
  }
}
