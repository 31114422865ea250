import { ErrorCode } from '@rampart/contracts';
import { DomainError } from '@rampart/service-kit';

/** No root CRL is published here: two tiers (the root is the platform CA, its CRL is /v1/platform/crl), or no PLATFORM_ROOT_CRL_FILE. */
export class RootCrlNotFoundError extends DomainError {
  override readonly name = 'RootCrlNotFoundError';
  readonly code = ErrorCode.notFound;
  constructor() {
    super('no offline root CRL is published by this installation');
  }
}
