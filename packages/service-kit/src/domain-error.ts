import type { ErrorCodeValue } from '@rampart/contracts';

/**
 * A failure a caller can act on, named by its wire code from the contracts' error table, never by an HTTP status:
 * each edge turns the code into its own answer (the HTTP filter's status from the table, the bus reply's code).
 * Each context's errors extend it, one class per failure.
 */
export abstract class DomainError extends Error {
  abstract readonly code: ErrorCodeValue;
  /** What exactly was wrong, one line each, when the caller can fix it (a bad request's fields); sent beside the message. */
  readonly details?: readonly string[];
}
