import { Controller, Get, Inject, Param, Query, Req } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { Requires, ZodValidationPipe, type TenantPrincipal } from '@rampart/service-kit';
import type { z } from 'zod';
import {
  AggregateDto,
  AggregateQuery,
  DeviceIdParam,
  DeviceLastSeenDto,
  DeviceLatestDto,
  DeviceRangeDto,
  ErrorDto,
  IngestStatsDto,
  ListQuery,
  RangeQuery,
} from './telemetry.dto.js';
import { TelemetryQueryService } from './telemetry-query.service.js';

type WithPrincipal = { principal: TenantPrincipal };

/** Telemetry of the caller's tenant's devices only; another tenant's device answers 404 like an unknown one. */
@ApiTags('telemetry')
@ApiBearerAuth()
@ApiBadRequestResponse({ type: ErrorDto })
@Requires('Reader')
@Controller('v1')
export class TelemetryController {
  constructor(@Inject(TelemetryQueryService) private readonly queries: TelemetryQueryService) {}

  @Get('devices/:deviceId/telemetry/latest')
  @ApiOperation({ summary: 'The newest value of each metric of one device' })
  @ApiParam({ name: 'deviceId', description: '64 hex characters' })
  @ApiOkResponse({ type: DeviceLatestDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  latest(@Req() req: WithPrincipal, @Param('deviceId', new ZodValidationPipe(DeviceIdParam)) deviceId: string): Promise<DeviceLatestDto> {
    return this.queries.tenantLatest(req.principal.tenantId, deviceId);
  }

  @Get('devices/:deviceId/telemetry')
  @ApiOperation({ summary: 'Values of one metric of one device in a time range (default: the last hour)' })
  @ApiQuery({ name: 'metric', required: true })
  @ApiQuery({ name: 'from', required: false, description: 'epoch ms or ISO 8601' })
  @ApiQuery({ name: 'to', required: false, description: 'epoch ms or ISO 8601' })
  @ApiQuery({ name: 'limit', required: false })
  @ApiOkResponse({ type: DeviceRangeDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  async range(
    @Req() req: WithPrincipal,
    @Param('deviceId', new ZodValidationPipe(DeviceIdParam)) deviceId: string,
    @Query(new ZodValidationPipe(RangeQuery)) query: z.infer<typeof RangeQuery>,
  ): Promise<DeviceRangeDto> {
    const points = await this.queries.range(req.principal.tenantId, deviceId, query.metric, query.from, query.to, query.limit);
    return { deviceId, metric: query.metric, points };
  }

  // Under telemetry/, not devices: GET /v1/devices is the attestation service's registry, and one base URL serves both.
  @Get('telemetry/devices')
  @ApiOperation({ summary: 'Devices by when they were last seen, newest first' })
  @ApiQuery({ name: 'limit', required: false })
  @ApiQuery({ name: 'offset', required: false })
  @ApiOkResponse({ type: [DeviceLastSeenDto] })
  devices(
    @Req() req: WithPrincipal,
    @Query(new ZodValidationPipe(ListQuery)) query: z.infer<typeof ListQuery>,
  ): Promise<DeviceLastSeenDto[]> {
    return this.queries.lastSeen(req.principal.tenantId, query.limit, query.offset);
  }

  @Get('telemetry/aggregate')
  @ApiOperation({ summary: 'Fleet aggregate of one metric in time buckets: count, devices, min, max, avg' })
  @ApiQuery({ name: 'metric', required: true })
  @ApiQuery({ name: 'from', required: false })
  @ApiQuery({ name: 'to', required: false })
  @ApiQuery({ name: 'bucketSeconds', required: false })
  @ApiOkResponse({ type: AggregateDto })
  async aggregate(
    @Req() req: WithPrincipal,
    @Query(new ZodValidationPipe(AggregateQuery)) query: z.infer<typeof AggregateQuery>,
  ): Promise<AggregateDto> {
    const buckets = await this.queries.aggregate(req.principal.tenantId, query.metric, query.from, query.to, query.bucketSeconds);
    return { metric: query.metric, bucketSeconds: query.bucketSeconds, buckets };
  }

  @Get('telemetry/stats')
  @ApiOperation({ summary: "What the platform has stored of this tenant's devices: readings, rows, devices" })
  @ApiOkResponse({ type: IngestStatsDto })
  stats(@Req() req: WithPrincipal): Promise<IngestStatsDto> {
    return this.queries.stats(req.principal.tenantId);
  }
}
