/** A one-off report (keys made, an image packed or verified): lines for people, or JSON. Not a resource table. */
export type ReportFormat = 'text' | 'json';

export function printReport(format: ReportFormat, value: unknown, text: () => string): void {
  process.stdout.write(format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}
