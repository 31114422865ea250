import { ApiHttpError, ApiUnreachableError } from '@rampart/api-client';

/** What the user reads when a command fails: the API's own message and the status, or the local cause; never a stack. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiHttpError) return `error: ${error.message} (HTTP ${error.status})`;
  if (error instanceof ApiUnreachableError) return `error: ${error.message}`;
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (error instanceof Error && typeof code === 'string' && error.message.startsWith(code)) return `error: ${error.message}`;
  return `error: ${error instanceof Error ? error.message : String(error)}`;
}
