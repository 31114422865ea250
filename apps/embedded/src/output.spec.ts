import { describe, expect, it } from 'vitest';
import type { FleetProgress } from '@rampart/emulator';
import { PLAIN_PROGRESS_EVERY_MS, progressPrinter } from './output.js';

function stream(isTTY: boolean): { isTTY: boolean; written: string[]; write: (chunk: string) => boolean } {
  const written: string[] = [];
  return { isTTY, written, write: (chunk: string) => written.push(chunk) > 0 };
}

const at = (elapsedMs: number, attested = 3): FleetProgress => ({
  elapsedMs,
  online: 3,
  attested,
  published: 0,
  acknowledged: 0,
  pending: 0,
});

describe(progressPrinter.name, () => {
  it('rewrites one line every second on a terminal', () => {
    const tty = stream(true);
    const print = progressPrinter(tty);
    for (let s = 1; s <= 3; s++) print(at(s * 1000));
    expect(tty.written).toHaveLength(3);
    expect(tty.written.every((w) => w.startsWith('\r') && !w.includes('\n'))).toBe(true);
  });

  it('is never silent without a terminal: a plain line at once, then one per interval', () => {
    const piped = stream(false);
    const print = progressPrinter(piped);
    for (let ms = 1000; ms <= 3 * PLAIN_PROGRESS_EVERY_MS; ms += 1000) print(at(ms));
    expect(piped.written).toHaveLength(3);
    expect(piped.written[0]).toMatch(/^ {2}1s {2}online 3 {2}attested 3 .*\n$/);
    expect(piped.written.every((w) => !w.includes('\r'))).toBe(true);
  });
});
