/** Why the offline side refused a certificate signing request; `reason` says which check failed, for scripts and tests. */
export type CsrRefusal = 'format' | 'signature' | 'key-type' | 'extension';

/**
 * A CSR the offline root will not sign. The ceremony signs exactly what it
 * understands: a request it cannot read, whose self-signature fails, whose key
 * is not P-256 or Ed25519, or that asks for more than an issuing CA is granted,
 * is refused by one of the subclasses below, never signed with the excess dropped.
 */
export abstract class CsrRefusedError extends Error {
  abstract readonly reason: CsrRefusal;
}

/** Not a PKCS#10 request (RFC 2986): no PEM "CERTIFICATE REQUEST", bad DER, an empty subject, an unknown version. */
export class CsrFormatError extends CsrRefusedError {
  override readonly name = 'CsrFormatError';
  readonly reason = 'format';
  constructor(why: string, options?: ErrorOptions) {
    super(`not a usable certificate signing request: ${why}`, options);
  }
}

/** The request's signature does not verify with the key it carries (RFC 2986 §3: proof of possession), or names another algorithm. */
export class CsrSignatureError extends CsrRefusedError {
  override readonly name = 'CsrSignatureError';
  readonly reason = 'signature';
  constructor(why: string) {
    super(`the certificate signing request's signature is refused: ${why}`);
  }
}

/** The request's key is not one an issuing CA may have: ECDSA P-256 or Ed25519 only. */
export class CsrKeyTypeError extends CsrRefusedError {
  override readonly name = 'CsrKeyTypeError';
  readonly reason = 'key-type';
  constructor(readonly keyType: string) {
    super(`the certificate signing request's key is ${keyType}: an issuing CA's key must be ECDSA P-256 or Ed25519`);
  }
}

/** The request asks for an extension or attribute the issuing CA is not granted (another path length, a SAN, an EKU…). */
export class CsrExtensionError extends CsrRefusedError {
  override readonly name = 'CsrExtensionError';
  readonly reason = 'extension';
  constructor(
    /** The OID of the extension or attribute refused. */
    readonly oid: string,
    why: string,
  ) {
    super(`the certificate signing request asks for what an issuing CA is not granted: ${why}`);
  }
}

/** The offline root's files cannot be used: missing, already there, or the key does not open with the passphrase given. */
export class RootKeyError extends Error {
  override readonly name = 'RootKeyError';
  constructor(
    /** The file or directory concerned. */
    readonly path: string,
    why: string,
    options?: ErrorOptions,
  ) {
    super(`offline root ${path}: ${why}`, options);
  }
}
