import type { FleetProgress } from '@rampart/emulator';

export type OutputFormat = 'text' | 'json';

/** How often a fleet's progress is written when stderr is not a terminal (a log, a pipe, CI). */
export const PLAIN_PROGRESS_EVERY_MS = 10_000;

/**
 * A fleet's progress on `stream`: on a TTY one line rewritten every second;
 * otherwise a plain line every `PLAIN_PROGRESS_EVERY_MS` (and the first at
 * once), so a run in a pipe or a CI log is never silent until its report.
 */
export function progressPrinter(stream: Pick<NodeJS.WriteStream, 'isTTY' | 'write'> = process.stderr): (p: FleetProgress) => void {
  const line = (p: FleetProgress) =>
    `  ${(p.elapsedMs / 1000).toFixed(0)}s  online ${p.online}  attested ${p.attested}  published ${p.published}  acknowledged ${p.acknowledged}  pending ${p.pending}`;
  if (stream.isTTY) return (p) => stream.write(`\r${line(p).padEnd(90)}`);
  let next = 0;
  return (p) => {
    if (p.elapsedMs < next) return;
    next = p.elapsedMs + PLAIN_PROGRESS_EVERY_MS;
    stream.write(`${line(p)}\n`);
  };
}

export function endProgress(stream: Pick<NodeJS.WriteStream, 'isTTY' | 'write'> = process.stderr): void {
  if (stream.isTTY) stream.write('\n');
}

/** A run's report: JSON for machines, or the lines `text` builds for people. */
export function printReport(format: OutputFormat, value: unknown, text: () => string): void {
  process.stdout.write(format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}
