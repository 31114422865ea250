import { ErrorCode } from '@rampart/contracts';
import { DomainError } from './domain-error.js';

/** A path, query or body the route does not take; `details` names each problem as `<where>: <what>`. */
export class InvalidRequestError extends DomainError {
  override readonly name = 'InvalidRequestError';
  readonly code = ErrorCode.badRequest;

  constructor(
    message: string,
    override readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}
