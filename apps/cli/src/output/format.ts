import { safeLine } from './safe-text.js';

/** How a command prints what it got: kubectl's -o choices. */
export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** What a table cell sees besides its row: wide tables show full ids and ISO times. */
export interface CellContext {
  readonly wide: boolean;
  readonly now: number;
}

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T, context: CellContext) => string;
  /** Only in -o wide. */
  readonly wide?: boolean;
}

/** How one kind of resource looks in a table. */
export interface View<T> {
  readonly columns: ReadonlyArray<Column<T>>;
  /** Printed instead of an empty table. */
  readonly empty: string;
}

/** Full ids in wide tables, the first 8 characters otherwise (like git's short hashes: prefixes are accepted back). */
export function id(value: string | null | undefined, context: CellContext, length = 8): string {
  if (value === null || value === undefined) return '-';
  return context.wide ? value : value.slice(0, length);
}

/** A 64-hex digest: 12 characters in tables (docker's short image id). */
export function digest(value: string | null | undefined, context: CellContext): string {
  return id(value, context, 12);
}

/** `3m ago` in tables, ISO 8601 UTC in wide ones; `-` for none. */
export function time(value: string | number | null | undefined, context: CellContext): string {
  if (value === null || value === undefined) return '-';
  const at = typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(at)) return String(value);
  return context.wide ? new Date(at).toISOString() : relative(at, context.now);
}

/** `45s ago`, `3m ago`, `5h ago`, `12d ago`; `in 3m` for the future. */
export function relative(at: number, now: number): string {
  const seconds = Math.round((now - at) / 1000);
  const span = Math.abs(seconds);
  const text =
    span < 60
      ? `${span}s`
      : span < 3600
        ? `${Math.floor(span / 60)}m`
        : span < 48 * 3600
          ? `${Math.floor(span / 3600)}h`
          : `${Math.floor(span / 86_400)}d`;
  return seconds >= 0 ? `${text} ago` : `in ${text}`;
}

/** Columns padded to their widest cell, three spaces apart (kubectl's layout); the last column is not padded. */
export function renderTable<T>(rows: readonly T[], view: View<T>, context: CellContext): string {
  if (rows.length === 0) return view.empty;
  const columns = view.columns.filter((c) => context.wide || c.wide !== true);
  const cells = [columns.map((c) => c.header), ...rows.map((row) => columns.map((c) => oneLine(c.value(row, context))))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  return cells
    .map((line) =>
      line
        .map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}

/** A cell on one line, safe to print: line breaks become spaces, other controls and BiDi marks visible escapes. */
function oneLine(text: string): string {
  return safeLine(text.replace(/\s*[\r\n]+\s*/g, ' '));
}

/** Fields that carry an instant; as epoch ms (telemetry's) they become ISO 8601 in json and yaml. */
const TIME_KEY = /^(?:at|ts|lastSeen|start|end|from|to|[a-z]+At)$/;

/** Times as ISO 8601 UTC in json and yaml: epoch-ms fields are converted, never printed raw. */
export function isoTimes(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => isoTimes(v));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isoTimes(v, k)]));
  if (typeof value === 'number' && TIME_KEY.test(key) && value > 1e11) return new Date(value).toISOString();
  return value;
}

/**
 * JSON.stringify escapes C0 controls but leaves DEL, C1 and BiDi marks raw; those can only occur inside strings,
 * where `\uXXXX` is the same value, so a terminal showing `-o json` is as safe as a table and parsers see no change.
 */
function safeJson(text: string): string {
  return text.replace(
    /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The text a command prints for `value` in `format` (yaml is loaded only when asked for). */
export async function formatted<T>(format: OutputFormat, value: T | readonly T[], view: View<T>, now = Date.now()): Promise<string> {
  switch (format) {
    case 'json':
      return safeJson(JSON.stringify(isoTimes(value), null, 2));
    case 'yaml': {
      const { stringify } = await import('yaml');
      return stringify(isoTimes(value)).trimEnd();
    }
    case 'table':
    case 'wide':
      return renderTable(Array.isArray(value) ? (value as readonly T[]) : [value as T], view, { wide: format === 'wide', now });
  }
}

export async function print<T>(format: OutputFormat, value: T | readonly T[], view: View<T>): Promise<void> {
  process.stdout.write(`${await formatted(format, value, view)}\n`);
}
