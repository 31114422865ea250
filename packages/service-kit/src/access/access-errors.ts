import { ErrorCode } from '@rampart/contracts';
import { DomainError } from '../domain-error.js';

/** The request carries no credential the guard accepts: none, malformed, unknown, expired or revoked. */
export class UnauthenticatedError extends DomainError {
  override readonly name = 'UnauthenticatedError';
  readonly code = ErrorCode.unauthenticated;
}

/** A valid credential that lacks the right: the role, the platform operator, or a route that declares no requirement. */
export class AccessDeniedError extends DomainError {
  override readonly name = 'AccessDeniedError';
  readonly code = ErrorCode.forbidden;
}

/** The credential cannot be checked right now (the attestation service does not answer): not a verdict on it. */
export class CredentialCheckUnavailableError extends DomainError {
  override readonly name = 'CredentialCheckUnavailableError';
  readonly code = ErrorCode.unavailable;
}
