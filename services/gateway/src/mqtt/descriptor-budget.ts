import { readFileSync } from 'node:fs';

/**
 * Descriptors kept back from the connection cap for everything else the
 * process opens: NATS, the HTTP port and its scrapes, files, DNS.
 */
export const RESERVED_DESCRIPTORS = 1_024;

/** The soft "Max open files" limit from a /proc/<pid>/limits text; undefined when unlimited or absent. */
export function openFileLimitFrom(limitsText: string): number | undefined {
  const soft = /^Max open files\s+(\S+)/m.exec(limitsText)?.[1];
  if (soft === undefined || soft === 'unlimited') return undefined;
  const value = Number(soft);
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/** This process's open-file limit where the platform tells it (Linux); undefined elsewhere. */
export function processOpenFileLimit(): number | undefined {
  try {
    return openFileLimitFrom(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The connection cap that fits the descriptor limit: each socket is a
 * descriptor, and a gateway that runs out of them fails everything else
 * too (issue 13 saw EMFILE spread to the database connection). A cap
 * configured above what the limit allows is lowered, and the caller says so.
 */
export function connectionCapWithin(maxConnections: number, openFileLimit: number | undefined): number {
  if (openFileLimit === undefined) return maxConnections;
  return Math.max(1, Math.min(maxConnections, openFileLimit - RESERVED_DESCRIPTORS));
}
