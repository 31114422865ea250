/**
 * Why a key provider cannot do what it was asked. Each failure has its own
 * class with the fields a caller acts on (`label`: which key, `token`: which
 * token); messages name both, since they end up in readiness probes and logs.
 */
export abstract class KeyProviderError extends Error {
  /** The key concerned, when the failure is about one key. */
  abstract readonly label: string | undefined;
}

/** The label does not have the form `rampart/<tenant|platform>/<purpose>`. */
export class InvalidKeyLabelError extends KeyProviderError {
  override readonly name = 'InvalidKeyLabelError';
  constructor(
    readonly label: string,
    why: string,
  ) {
    super(`invalid key label ${JSON.stringify(label)}: ${why}`);
  }
}

/** No key under this label: it was never made, or it was deleted from the token or store. */
export class KeyNotFoundError extends KeyProviderError {
  override readonly name = 'KeyNotFoundError';
  constructor(
    readonly label: string,
    where: string,
  ) {
    super(`key ${label} is missing from ${where}`);
  }
}

/** A key under this label exists already; generating would replace or shadow it. */
export class KeyExistsError extends KeyProviderError {
  override readonly name = 'KeyExistsError';
  constructor(
    readonly label: string,
    where: string,
  ) {
    super(`key ${label} already exists in ${where}`);
  }
}

/** The store holds a key under this label that is not one this provider can use (two private keys, another curve…). */
export class UnusableKeyError extends KeyProviderError {
  override readonly name = 'UnusableKeyError';
  constructor(
    readonly label: string,
    why: string,
    options?: ErrorOptions,
  ) {
    super(`key ${label} cannot be used: ${why}`, options);
  }
}

/** The token cannot make or use keys of this algorithm (its module lacks the mechanism). */
export class UnsupportedAlgorithmError extends KeyProviderError {
  override readonly name = 'UnsupportedAlgorithmError';
  constructor(
    readonly label: string | undefined,
    readonly algorithm: string,
    readonly token: string,
  ) {
    super(`token ${token} does not support ${algorithm}${label === undefined ? '' : ` (key ${label})`}`);
  }
}

/** The PKCS#11 module (or its Node binding) cannot be loaded or initialised. */
export class Pkcs11ModuleError extends KeyProviderError {
  override readonly name = 'Pkcs11ModuleError';
  readonly label = undefined;
  constructor(
    readonly modulePath: string,
    why: string,
    options?: ErrorOptions,
  ) {
    super(`PKCS#11 module ${modulePath}: ${why}`, options);
  }
}

/** The token is absent, or was lost mid-run (removed, session closed, device error). Signing resumes when it returns. */
export class TokenUnavailableError extends KeyProviderError {
  override readonly name = 'TokenUnavailableError';
  constructor(
    readonly token: string,
    readonly reason: string,
    readonly label: string | undefined = undefined,
    options?: ErrorOptions,
  ) {
    super(`token ${token} is unavailable${label === undefined ? '' : ` for key ${label}`}: ${reason}`, options);
  }
}

/**
 * The token refused the PIN, or the PIN file cannot be read. The provider does
 * not try the same PIN again (a token locks after a few wrong tries); it tries
 * again once the PIN file holds another PIN.
 */
export class TokenLoginError extends KeyProviderError {
  override readonly name = 'TokenLoginError';
  constructor(
    readonly token: string,
    readonly reason: string,
    readonly label: string | undefined = undefined,
    options?: ErrorOptions,
  ) {
    super(`cannot log in to token ${token}${label === undefined ? '' : ` for key ${label}`}: ${reason}`, options);
  }
}

/** The token refused an operation on a key for a reason other than the above; `code` is the PKCS#11 return value's name. */
export class TokenOperationError extends KeyProviderError {
  override readonly name = 'TokenOperationError';
  constructor(
    readonly token: string,
    readonly operation: string,
    readonly code: string,
    readonly label: string | undefined,
    options?: ErrorOptions,
  ) {
    super(`token ${token} refused ${operation}${label === undefined ? '' : ` with key ${label}`}: ${code}`, options);
  }
}

/**
 * The same failure, naming the key it stopped: a token or login failure is
 * found before any key is, and a readiness probe or a log line should still
 * say which key could not be used. Other errors name their key already.
 */
export function errorForKey(error: KeyProviderError, label: string | undefined): KeyProviderError {
  if (label === undefined || error.label !== undefined) return error;
  if (error instanceof TokenUnavailableError) return new TokenUnavailableError(error.token, error.reason, label, { cause: error });
  if (error instanceof TokenLoginError) return new TokenLoginError(error.token, error.reason, label, { cause: error });
  return error;
}
