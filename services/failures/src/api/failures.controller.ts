import { Controller, Get, Inject, Param, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { Ids, decimalInteger, instantDate, text } from '@rampart/contracts';
import { Requires, ZodValidationPipe } from '@rampart/service-kit';
import { CohortQueryShape } from './cohort-query.js';
import type { ReportFilter } from '../ingest/failures.repository.js';
import { FailureReportsService } from '../reports/failure-reports.service.js';
import { ReportExport } from '../reports/report-export.js';
import type { TenantPrincipal } from '@rampart/service-kit';

const ReportQuery = z
  .object({
    from: instantDate.optional(),
    to: instantDate.optional(),
    deviceId: Ids.device.optional(),
    bucket: Ids.bucket.optional(),
    version: text({ max: 64 }).optional(),
    limit: decimalInteger({ min: 1, max: 1_000 }).default(100),
    /** Keyset cursor from the previous page's `next`. */
    after: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,200}$/, 'a cursor from a previous page')
      .optional(),
  })
  .strict();

const ExportQuery = ReportQuery.omit({ limit: true, after: true })
  .extend({ format: z.enum(['json', 'csv']).default('json') })
  .strict();

const BucketQuery = z
  .object({
    version: text({ max: 64 }).optional(),
    limit: decimalInteger({ min: 1, max: 1_000 }).default(100),
    /** With a cohort: counts within it, over this window (default the last 30 days). */
    from: instantDate.optional(),
    to: instantDate.optional(),
    ...CohortQueryShape,
  })
  .strict()
  .refine((q) => q.deviceGroup === undefined || q.deployment === undefined, 'name a device group or a deployment, not both');

type WithPrincipal = { principal: TenantPrincipal };

/** The part of the HTTP response the export writes to (Express's, streamed). */
interface StreamedResponse {
  setHeader(name: string, value: string): void;
  write(chunk: string): boolean;
  end(chunk?: string): void;
}

/** Failure reports and buckets of the caller's tenant only; no event or day cap on export. */
@ApiTags('failures')
@ApiBearerAuth()
@Requires('Reader')
@Controller('v1')
export class FailuresController {
  constructor(
    @Inject(FailureReportsService) private readonly failures: FailureReportsService,
    @Inject(ReportExport) private readonly exports: ReportExport,
  ) {}

  @Get('failure-buckets')
  @ApiOperation({ summary: 'Failure buckets of this tenant, most recently seen first; or counted within a device group or deployment' })
  buckets(@Req() req: WithPrincipal, @Query(new ZodValidationPipe(BucketQuery)) q: z.infer<typeof BucketQuery>) {
    return this.failures.buckets(req.principal.tenantId, q);
  }

  @Get('failure-buckets/:signature')
  @ApiOperation({ summary: 'One bucket and its latest reports' })
  bucket(@Req() req: WithPrincipal, @Param('signature', new ZodValidationPipe(Ids.bucket)) signature: string) {
    return this.failures.bucket(req.principal.tenantId, signature);
  }

  @Get('error-reports')
  @ApiOperation({ summary: 'Failure reports by time range, device, bucket or version, newest first, a page at a time' })
  reports(@Req() req: WithPrincipal, @Query(new ZodValidationPipe(ReportQuery)) q: z.infer<typeof ReportQuery>) {
    return this.failures.reports(req.principal.tenantId, filterOf(q), q.limit, q.after);
  }

  @Get('error-reports/export')
  @ApiOperation({ summary: 'Every matching report as CSV or JSON, streamed (no event or day cap)' })
  async export(
    @Req() req: WithPrincipal,
    @Query(new ZodValidationPipe(ExportQuery)) q: z.infer<typeof ExportQuery>,
    @Res() res: StreamedResponse,
  ) {
    const opened = await this.exports.open(req.principal.tenantId, filterOf(q), q.format);
    res.setHeader('content-type', opened.contentType);
    for await (const chunk of opened.chunks) res.write(chunk);
    res.end();
  }
}

function filterOf(q: {
  from?: Date | undefined;
  to?: Date | undefined;
  deviceId?: string | undefined;
  bucket?: string | undefined;
  version?: string | undefined;
}): ReportFilter {
  return {
    ...(q.from === undefined ? {} : { from: q.from }),
    ...(q.to === undefined ? {} : { to: q.to }),
    ...(q.deviceId === undefined ? {} : { deviceId: q.deviceId }),
    ...(q.bucket === undefined ? {} : { bucket: q.bucket }),
    ...(q.version === undefined ? {} : { version: q.version }),
  };
}
