import { ApiHttpError, ApiUnreachableError } from '@rampart/api-client';
import { safeLines } from './output/safe-text.js';

/** A failure in a few words: the API's own message and the status, or the local cause; never a stack. */
export function describeError(error: unknown): string {
  if (error instanceof ApiHttpError) return `${error.message} (HTTP ${error.status})`;
  if (error instanceof ApiUnreachableError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

/**
 * What the user reads when a command fails. The API's message may quote device-sent text, so controls and BiDi
 * marks are shown escaped; line feeds stay (an ambiguous prefix lists its matches one per line).
 */
export function errorMessage(error: unknown): string {
  return `error: ${safeLines(describeError(error))}`;
}
