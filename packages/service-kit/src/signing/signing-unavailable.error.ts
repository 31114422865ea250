import { ErrorCode } from '@rampart/contracts';
import { IssuingCaKeyError, KeyProviderError } from '@rampart/trust';
import { DomainError } from '../domain-error.js';

/**
 * What a caller (an API client, a device, a service over the bus) is told when a key cannot sign: the same words
 * whichever key and why. The why names the token label, key labels, the PKCS#11 module and PIN file paths, which are
 * the platform's to know; it goes to the logs (`detail`, the cause), never on the wire.
 */
export const SIGNING_UNAVAILABLE_MESSAGE = 'signing key unavailable; retry later';

/**
 * A key cannot sign now: its token is absent or refuses the PIN, the key is missing, or it is not the key the
 * relying party trusts. Nothing was signed another way; the same request succeeds once the key is back
 * (UNAVAILABLE: HTTP 503, a device retries). One class for every service that signs through a key provider.
 */
export class SigningUnavailableError extends DomainError {
  override readonly name = 'SigningUnavailableError';
  readonly code = ErrorCode.unavailable;
  /** The key concerned (its label, or a key id when it has none), when known: for logs, metrics and the audit. */
  readonly key: string | undefined;
  /** Which key and why, for the service's own log (pino writes it with the error); never sent. */
  readonly detail: string;

  constructor(detail: string, options: { readonly key?: string; readonly cause?: unknown } = {}) {
    super(SIGNING_UNAVAILABLE_MESSAGE, options.cause === undefined ? undefined : { cause: options.cause });
    this.detail = detail;
    this.key = options.key ?? (isKeyError(options.cause) ? options.cause.label : undefined);
  }

  /**
   * The key's own error when a provider refused (its class names the failure: TokenUnavailableError…) or the key is
   * not the issuing CA certificate's (IssuingCaKeyError).
   */
  get keyError(): KeyError | undefined {
    return isKeyError(this.cause) ? this.cause : undefined;
  }

  /** Why it failed in one word, for a metric's or an audit entry's label: the provider error's class, or this one's. */
  get failure(): string {
    return this.keyError?.name ?? this.name;
  }

  /** A key's refusal, about `key` when the caller knows which (the provider's error may not say). */
  static fromProvider(error: KeyError, key?: string): SigningUnavailableError {
    return new SigningUnavailableError(`${error.name}: ${error.message}`, { key: key ?? error.label, cause: error });
  }
}

/** Why a key cannot sign: its provider refused, or it is not the key its certificate names. */
export type KeyError = KeyProviderError | IssuingCaKeyError;

function isKeyError(error: unknown): error is KeyError {
  return error instanceof KeyProviderError || error instanceof IssuingCaKeyError;
}

/**
 * Runs a step that signs (or makes or finds a key): a key provider's failure, or an issuing key refused, becomes
 * SigningUnavailableError, its own error kept as the cause; anything else goes on unchanged.
 */
export async function signingOrUnavailable<T>(sign: () => Promise<T>, key?: string): Promise<T> {
  try {
    return await sign();
  } catch (error) {
    if (isKeyError(error)) throw SigningUnavailableError.fromProvider(error, key);
    throw error;
  }
}
