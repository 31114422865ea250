import { ErrorCode, type ErrorCodeValue } from '@rampart/contracts';

/** A bus operation failed; `code` is the wire code a caller can act on. */
export class BusError extends Error {
  override readonly name = 'BusError';
  constructor(
    readonly code: ErrorCodeValue,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static noResponders(subject: string): BusError {
    return new BusError(ErrorCode.unavailable, `no service answers ${subject}`);
  }

  static timeout(subject: string, timeoutMs: number): BusError {
    return new BusError(ErrorCode.timeout, `no reply on ${subject} within ${timeoutMs} ms`);
  }
}
