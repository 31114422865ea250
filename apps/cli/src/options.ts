import { InvalidArgumentError, Option } from 'commander';
import { parseDuration } from './duration.js';
import { OUTPUT_FORMATS } from './output/format.js';

// Option parsers: each rejects bad input by naming what is valid (commander prefixes the option's name).

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0)
    throw new InvalidArgumentError(`expected a positive whole number, got "${value}"`);
  return n;
}

export function wholeNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected a whole number ≥ 0, got "${value}"`);
  return n;
}

export function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('expected a port, 0–65535 (0 picks a free one)');
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
}

export function percent(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 100)
    throw new InvalidArgumentError(`expected a percent, 0–100, got "${value}"`);
  return n;
}

export function duration(value: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** A daily maintenance window in UTC hours: `2-5` (start-end, 0–23 and 1–24), or `any` (null: any time). */
export function maintenanceWindow(value: string): { startHour: number; endHour: number } | null {
  if (value.toLowerCase() === 'any') return null;
  const match = /^(\d{1,2})-(\d{1,2})$/.exec(value.trim());
  const start = Number(match?.[1]);
  const end = Number(match?.[2]);
  if (match === null || start > 23 || end < 1 || end > 24 || start === end)
    throw new InvalidArgumentError('expected START-END in UTC hours (e.g. 2-5) or "any"');
  return { startHour: start, endHour: end };
}

export const ROLES = ['Administrator', 'Contributor', 'Reader'] as const;
export type Role = (typeof ROLES)[number];

/** A tenant role, in any case (`reader` is Reader). */
export function role(value: string): Role {
  const found = ROLES.find((r) => r.toLowerCase() === value.toLowerCase());
  if (found === undefined) throw new InvalidArgumentError(`expected one of ${ROLES.join(', ')} (any case), got "${value}"`);
  return found;
}

/** A choice option: commander lists the choices in --help and in its error ("Allowed choices are …"). */
export function choice(flags: string, description: string, choices: readonly string[]): Option {
  return new Option(flags, description).choices(choices);
}

/** `-o/--output`: kubectl's formats; tables by default, on a terminal and through a pipe alike. */
export function outputOption(): Option {
  return choice('-o, --output <format>', 'output format', OUTPUT_FORMATS).default('table');
}
