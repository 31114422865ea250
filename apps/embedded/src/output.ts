import type { FleetProgress } from '@rampart/emulator';

export type OutputFormat = 'text' | 'json';

/** One updating progress line on a TTY; nothing when output is piped. */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): (p: FleetProgress) => void {
  if (!stream.isTTY) return () => undefined;
  return (p) => {
    const line = `  ${(p.elapsedMs / 1000).toFixed(0)}s  online ${p.online}  attested ${p.attested}  published ${p.published}  acknowledged ${p.acknowledged}  pending ${p.pending}`;
    stream.write(`\r${line.padEnd(90)}`);
  };
}

export function endProgress(stream: NodeJS.WriteStream = process.stderr): void {
  if (stream.isTTY) stream.write('\n');
}

/** A run's report: JSON for machines, or the lines `text` builds for people. */
export function printReport(format: OutputFormat, value: unknown, text: () => string): void {
  process.stdout.write(format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}
