import type { FailuresRepository, ReportFilter, ReportRow } from '../ingest/failures.repository.js';

export type ExportFormat = 'json' | 'csv';

/** Reports read per query while exporting. */
export const EXPORT_PAGE_SIZE = 1_000;

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

/**
 * Text a spreadsheet would run as a formula (OWASP "CSV injection"): device-sent text such as a crash message is
 * hostile, and an operator opens exports in a spreadsheet.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV cell (RFC 4180): quoted when it holds a quote, comma or line break; objects as JSON; text that starts
 * like a formula gets a leading `'`, so a spreadsheet shows it as text (numbers, such as a negative exit code, stay numbers).
 */
export function csvCell(value: unknown): string {
  const text =
    value === null || value === undefined
      ? ''
      : typeof value === 'string'
        ? FORMULA_START.test(value)
          ? `'${value}`
          : value
        : JSON.stringify(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** An export ready to stream: its content type, and its text a piece at a time. */
export interface OpenedExport {
  readonly contentType: string;
  readonly chunks: AsyncIterable<string>;
}

/** Every report matching a filter, as CSV or a JSON array, read a page at a time (no event or day cap). */
export class ReportExport {
  constructor(
    private readonly repository: FailuresRepository,
    private readonly pageSize = EXPORT_PAGE_SIZE,
  ) {}

  /**
   * Reads the first page before it resolves: a query that fails, fails before
   * a byte is written (with its status and a JSON body), never as a 200 that
   * stops mid-stream.
   */
  async open(tenantId: string, filter: ReportFilter, format: ExportFormat): Promise<OpenedExport> {
    const first = await this.repository.reports(tenantId, filter, this.pageSize);
    return {
      contentType: format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json',
      chunks: this.chunks(tenantId, filter, format, first),
    };
  }

  private async *chunks(
    tenantId: string,
    filter: ReportFilter,
    format: ExportFormat,
    first: { rows: ReportRow[]; next: string | null },
  ): AsyncGenerator<string> {
    yield format === 'csv' ? `${CSV_COLUMNS.join(',')}\n` : '[';
    let page = first;
    let isFirst = true;
    for (;;) {
      for (const row of page.rows) {
        if (format === 'csv') yield `${CSV_COLUMNS.map((c) => csvCell(row[c])).join(',')}\n`;
        else yield `${isFirst ? '' : ','}\n${JSON.stringify(row)}`;
        isFirst = false;
      }
      if (page.next === null) break;
      page = await this.repository.reports(tenantId, filter, this.pageSize, page.next);
    }
    if (format === 'json') yield '\n]\n';
  }
}
