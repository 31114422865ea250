import { ErrorCode } from '@rampart/contracts';
import { DomainError } from '@rampart/service-kit';
import { IssuingCaKeyError, KeyProviderError } from '@rampart/trust';

/**
 * A CA could not sign because its key provider cannot (the token is absent,
 * the PIN refused, the key missing) or the token's issuing key is not the
 * issuing CA certificate's: nothing is signed another way, and the caller is
 * told to come back (UNAVAILABLE: HTTP 503, a device retries). `keyError` is
 * the provider's own named error, or IssuingCaKeyError.
 */
export class SigningUnavailableError extends DomainError {
  override readonly name = 'SigningUnavailableError';
  readonly code = ErrorCode.unavailable;
  constructor(readonly keyError: KeyProviderError | IssuingCaKeyError) {
    super(`signing unavailable: ${keyError.name}: ${keyError.message}`, { cause: keyError });
  }
}

/** Runs a signing step; a key provider's failure (or an issuing key refused) becomes SigningUnavailableError, anything else goes on unchanged. */
export async function signingOrUnavailable<T>(sign: () => Promise<T>): Promise<T> {
  try {
    return await sign();
  } catch (error) {
    if (error instanceof KeyProviderError || error instanceof IssuingCaKeyError) throw new SigningUnavailableError(error);
    throw error;
  }
}

/** No root CRL is published here: two tiers (the root is the platform CA, its CRL is /v1/platform/crl), or no PLATFORM_ROOT_CRL_FILE. */
export class RootCrlNotFoundError extends DomainError {
  override readonly name = 'RootCrlNotFoundError';
  readonly code = ErrorCode.notFound;
  constructor() {
    super('no offline root CRL is published by this installation');
  }
}
