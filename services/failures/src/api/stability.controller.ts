import { Controller, Get, Inject, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { instantDate, text } from '@rampart/contracts';
import { Requires, ZodValidationPipe } from '@rampart/service-kit';
import { CohortQueryShape } from './cohort-query.js';
import { StabilityReport } from '../stability/stability-report.service.js';
import type { TenantPrincipal } from '@rampart/service-kit';

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
  constructor(@Inject(StabilityReport) private readonly report: StabilityReport) {}

  @Get('stability')
  @ApiOperation({
    summary:
      'Crash-free devices and crash-free hours per version of a component (default: the last 7 days); optionally of a device group or a deployment (or one wave)',
  })
  stability(@Req() req: { principal: TenantPrincipal }, @Query(new ZodValidationPipe(StabilityQuery)) q: z.infer<typeof StabilityQuery>) {
    return this.report.of(req.principal.tenantId, q);
  }
}
