import { Controller, Get, Inject, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { instantDate, text } from '@rampart/contracts';
import { Requires, TypedBus, ZodValidationPipe } from '@rampart/service-kit';
import { CohortQueryShape, cohortDevices } from './cohort-devices.js';
import { StabilityRepository } from '../stability/stability.repository.js';
import type { TenantPrincipal } from '@rampart/service-kit';

const DAY_MS = 86_400_000;

const StabilityQuery = z
  .object({
    /** `os` or `app:<name>`. */
    component: text({ min: 1, max: 80 }),
    /** One version, or several separated by commas; every version seen if omitted. */
    version: text({ max: 64 * 20 }).optional(),
    from: instantDate.optional(),
    to: instantDate.optional(),
    ...CohortQueryShape,
  })
  .strict()
  .refine((q) => q.deviceGroup === undefined || q.deployment === undefined, 'name a device group or a deployment, not both');

/** Crash-free devices and hours per version of a component, for the caller's tenant. */
@ApiTags('stability')
@ApiBearerAuth()
@Requires('Reader')
@Controller('v1')
export class StabilityController {
  constructor(
    @Inject(StabilityRepository) private readonly repository: StabilityRepository,
    @Inject(TypedBus) private readonly bus: TypedBus,
  ) {}

  @Get('stability')
  @ApiOperation({
    summary:
      'Crash-free devices and crash-free hours per version of a component (default: the last 7 days); optionally of a device group or a deployment (or one wave)',
  })
  async stability(
    @Req() req: { principal: TenantPrincipal },
    @Query(new ZodValidationPipe(StabilityQuery)) q: z.infer<typeof StabilityQuery>,
  ) {
    const until = q.to ?? new Date();
    const since = q.from ?? new Date(until.getTime() - 7 * DAY_MS);
    const versions = q.version
      ?.split(',')
      .map((v) => v.trim())
      .filter((v) => v.length > 0);
    const deviceIds = await cohortDevices(this.bus, req.principal.tenantId, q);
    const cohorts = await this.repository.cohorts({
      tenantId: req.principal.tenantId,
      component: q.component,
      since,
      until,
      versions,
      deviceIds,
    });
    return { component: q.component, since: since.getTime(), until: until.getTime(), cohorts };
  }
}
