import { z } from 'zod';
import { DEVICE_ID_PATTERN, TENANT_ID_PATTERN } from './identity.js';

/**
 * The field types of every REST route's path, query and body parameters:
 * what an operator may send, refused with a 400 that names the field when
 * it is anything else. Each one closes a way hostile input used to reach
 * PostgreSQL or the code behind it and come back as a 500.
 */

/**
 * Control characters, C0 (NUL included: PostgreSQL `text` cannot hold it),
 * DEL and C1. Tab and line breaks are allowed only in multi-line text.
 */
const CONTROL_CHARACTERS = /\p{Cc}/u;
const CONTROL_CHARACTERS_BUT_LINE_BREAKS = /[^\P{Cc}\t\n\r]/u;

export interface TextOptions {
  /** Fewest characters (UTF-16 code units); 0 unless given. */
  readonly min?: number;
  /** Most characters (UTF-16 code units). */
  readonly max: number;
  /** Allows tab, CR and LF (a description, a reason); single-line text refuses them. */
  readonly multiline?: boolean;
}

/**
 * Text an operator typed: bounded, well-formed Unicode (a lone surrogate
 * would be silently replaced on its way to the database), and free of
 * control characters.
 */
export function text(options: TextOptions): z.ZodString {
  const forbidden = options.multiline === true ? CONTROL_CHARACTERS_BUT_LINE_BREAKS : CONTROL_CHARACTERS;
  return z
    .string()
    .min(options.min ?? 0)
    .max(options.max)
    .refine((value) => !forbidden.test(value), 'control characters (NUL included) are not allowed')
    .refine((value) => value.isWellFormed(), 'not well-formed Unicode (a lone surrogate)');
}

/**
 * Text a machine wrote (a crash message, a stack frame): any character
 * PostgreSQL can store, so no NUL (neither `text` nor `jsonb` holds one) and
 * no lone surrogate (`jsonb` refuses its escape); bounded.
 */
export function storableText(options: { readonly min?: number; readonly max: number }): z.ZodString {
  return z
    .string()
    .min(options.min ?? 0)
    .max(options.max)
    .superRefine((value, ctx) => {
      const problem = unstorableIn(value);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    });
}

/** Why PostgreSQL could not store this string (a NUL, or a lone surrogate), or undefined if it can. */
export function unstorableIn(value: string): string | undefined {
  if (value.includes('\u0000')) return 'NUL characters are not allowed';
  if (!value.isWellFormed()) return 'not well-formed Unicode (a lone surrogate)';
  return undefined;
}

/** Digits only, with an optional minus: no `0x10`, `1e3`, `""`, ` 5`, `1.0` read as numbers. */
const DECIMAL_INTEGER = /^-?[0-9]{1,15}$/;

/**
 * A whole number in a path or query parameter, written in plain decimal,
 * within [min, max]. (Number() would read `0x10` as 16 and `""` as 0.)
 */
export function decimalInteger(options: { readonly min: number; readonly max: number }) {
  return z
    .string()
    .regex(DECIMAL_INTEGER, 'a whole number in decimal digits')
    .transform(Number)
    .pipe(z.number().int().min(options.min).max(options.max));
}

/** The earliest instant a query may name: the Unix epoch. */
export const MIN_INSTANT_MS = 0;
/** The latest: the end of year 9999, far inside both PostgreSQL's `timestamptz` and JavaScript's Date ranges. */
export const MAX_INSTANT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const EPOCH_MILLISECONDS = /^[0-9]{1,15}$/;
/** ISO 8601 as `Date.parse` reads it reliably: a date, optionally a time and a zone; no expanded (±YYYYYY) years. */
const ISO_8601 = /^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?$/i;

/**
 * A point in time in a query parameter: epoch milliseconds or ISO 8601,
 * between 1970 and the end of 9999, as epoch milliseconds.
 */
export const instantMs = z.string().transform((value, ctx) => {
  const ms = EPOCH_MILLISECONDS.test(value) ? Number(value) : ISO_8601.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: 'expected epoch milliseconds or an ISO 8601 date' });
    return z.NEVER;
  }
  if (ms < MIN_INSTANT_MS || ms > MAX_INSTANT_MS) {
    ctx.addIssue({ code: 'custom', message: 'a date between 1970-01-01 and 9999-12-31' });
    return z.NEVER;
  }
  return ms;
});

/** {@link instantMs} as a Date. */
export const instantDate = instantMs.transform((ms) => new Date(ms));

/** True when a Date lies in the range every query accepts (for dates that did not come through {@link instantMs}). */
export function isInstantInRange(date: Date): boolean {
  const ms = date.getTime();
  return Number.isFinite(ms) && ms >= MIN_INSTANT_MS && ms <= MAX_INSTANT_MS;
}

/** A SHA-256 in lowercase hex (image ids, measurements). */
export const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;

/** Identifiers, each of its one shape. */
export const Ids = {
  device: z.string().regex(DEVICE_ID_PATTERN, 'a device id is 64 lowercase hex characters'),
  tenant: z.string().regex(TENANT_ID_PATTERN, 'a tenant id is 2–63 lowercase letters, digits and hyphens'),
  sha256: z.string().regex(SHA256_HEX_PATTERN, 'a SHA-256 in lowercase hex'),
  uuid: z.uuid(),
  /** A failure bucket's signature: 32 lowercase hex characters. */
  bucket: z.string().regex(/^[0-9a-f]{32}$/, 'a bucket signature is 32 lowercase hex characters'),
} as const;
