import { Controller, Get, Inject, Param, Query, Req, Res, NotFoundException } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { Ids, decimalInteger, instantDate, text } from '@rampart/contracts';
import { Requires, TypedBus, ZodValidationPipe } from '@rampart/service-kit';
import { CohortQueryShape, cohortDevices } from './cohort-devices.js';
import { FailuresRepository, type ReportFilter } from '../ingest/failures.repository.js';
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

/** Reports read per query while exporting. */
const EXPORT_PAGE_SIZE = 1_000;

type WithPrincipal = { principal: TenantPrincipal };

/** The part of the HTTP response the export writes to (Express's, streamed). */
interface StreamedResponse {
  setHeader(name: string, value: string): void;
  write(chunk: string): boolean;
  end(chunk?: string): void;
}

const CSV_COLUMNS = [
  'occurredAt',
  'deviceId',
  'kind',
  'component',
  'version',
  'exitCode',
  'signal',
  'message',
  'bucket',
  'frames',
] as const;

function csvCell(value: unknown): string {
  const text = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Failure reports and buckets of the caller's tenant only; no event or day cap on export. */
@ApiTags('failures')
@ApiBearerAuth()
@Requires('Reader')
@Controller('v1')
export class FailuresController {
  constructor(
    @Inject(FailuresRepository) private readonly repository: FailuresRepository,
    @Inject(TypedBus) private readonly bus: TypedBus,
  ) {}

  @Get('failure-buckets')
  @ApiOperation({ summary: 'Failure buckets of this tenant, most recently seen first; or counted within a device group or deployment' })
  async buckets(@Req() req: WithPrincipal, @Query(new ZodValidationPipe(BucketQuery)) q: z.infer<typeof BucketQuery>) {
    const deviceIds = await cohortDevices(this.bus, req.principal.tenantId, q);
    if (deviceIds === undefined) return this.repository.buckets(req.principal.tenantId, q.limit, q.version);
    // A group's or a deployment's view: reports and distinct devices among its devices, in the window.
    const until = q.to ?? new Date();
    const since = q.from ?? new Date(until.getTime() - 30 * 86_400_000);
    return this.repository.bucketsAmong(req.principal.tenantId, { since, until }, { deviceIds, version: q.version }, q.limit);
  }

  @Get('failure-buckets/:signature')
  @ApiOperation({ summary: 'One bucket and its latest reports' })
  async bucket(@Req() req: WithPrincipal, @Param('signature', new ZodValidationPipe(Ids.bucket)) signature: string) {
    const bucket = await this.repository.bucket(req.principal.tenantId, signature);
    // Another tenant's bucket answers exactly like one that does not exist.
    if (bucket === undefined) throw new NotFoundException({ code: 'NOT_FOUND', message: 'no such bucket' });
    const latest = await this.repository.reports(req.principal.tenantId, { bucket: signature }, 20);
    return { ...bucket, latest: latest.rows };
  }

  @Get('error-reports')
  @ApiOperation({ summary: 'Failure reports by time range, device, bucket or version, newest first, a page at a time' })
  reports(@Req() req: WithPrincipal, @Query(new ZodValidationPipe(ReportQuery)) q: z.infer<typeof ReportQuery>) {
    return this.repository.reports(req.principal.tenantId, filterOf(q), q.limit, q.after);
  }

  @Get('error-reports/export')
  @ApiOperation({ summary: 'Every matching report as CSV or JSON, streamed (no event or day cap)' })
  async export(
    @Req() req: WithPrincipal,
    @Query(new ZodValidationPipe(ExportQuery)) q: z.infer<typeof ExportQuery>,
    @Res() res: StreamedResponse,
  ) {
    const filter = filterOf(q);
    // The first page is read before a byte is written: a query that fails, fails with its status and a JSON body,
    // never as a 200 that stops mid-stream.
    let page = await this.repository.reports(req.principal.tenantId, filter, EXPORT_PAGE_SIZE);
    res.setHeader('content-type', q.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json');
    res.write(q.format === 'csv' ? `${CSV_COLUMNS.join(',')}\n` : '[');
    let first = true;
    for (;;) {
      for (const row of page.rows) {
        if (q.format === 'csv') res.write(`${CSV_COLUMNS.map((c) => csvCell(row[c])).join(',')}\n`);
        else res.write(`${first ? '' : ','}\n${JSON.stringify(row)}`);
        first = false;
      }
      if (page.next === null) break;
      page = await this.repository.reports(req.principal.tenantId, filter, EXPORT_PAGE_SIZE, page.next);
    }
    res.end(q.format === 'csv' ? '' : '\n]\n');
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
