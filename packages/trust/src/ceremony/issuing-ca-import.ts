import { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  BasicConstraints,
  Certificate,
  type Extension,
  KeyUsage,
  KeyUsageFlags,
  id_ce_basicConstraints,
  id_ce_keyUsage,
} from '@peculiar/asn1-x509';
import { x509 } from '../crypto-provider.js';
import { certificatesInPemBundle } from '../device-id.js';
import { KeyNotFoundError } from '../keys/key-errors.js';
import type { KeyHandle, KeyProvider } from '../keys/key-provider.js';
import { ISSUING_CA_KEY_LABEL } from './issuing-csr.js';
import { ISSUING_CA_PATH_LENGTH } from './offline-root.js';

/**
 * Why the platform refuses the issuing CA the ceremony gave it, rather than
 * sign tenant CAs that no relying party would accept, or sign with a key the
 * certificate does not name. The files' errors (chain, constraints, root CRL)
 * stop the service at start-up; IssuingCaKeyError, found in the token, keeps
 * it not ready.
 */
export abstract class IssuingCaImportError extends Error {}

/** The roots file holds no certificate, or the issuing CA is signed by none of the roots in it. */
export class IssuingCaChainError extends IssuingCaImportError {
  override readonly name = 'IssuingCaChainError';
  constructor(why: string) {
    super(`the issuing CA does not chain to the offline root: ${why}`);
  }
}

/** The issuing CA certificate is not one that may sign tenant CAs: not a CA, pathLen below 1, no keyCertSign, or not valid now. */
export class IssuingCaConstraintsError extends IssuingCaImportError {
  override readonly name = 'IssuingCaConstraintsError';
  constructor(why: string) {
    super(`the issuing CA certificate cannot sign tenant CAs: ${why}`);
  }
}

/** The key provider's key under the issuing CA's label is not the certificate's (a missing key is the provider's KeyNotFoundError). */
export class IssuingCaKeyError extends IssuingCaImportError {
  override readonly name = 'IssuingCaKeyError';
  constructor(
    readonly label: string,
    why: string,
    options?: ErrorOptions,
  ) {
    super(`the issuing CA key ${label}: ${why}`, options);
  }
}

/** The root CRL file is not one CRL signed by one of the roots. */
export class RootCrlError extends IssuingCaImportError {
  override readonly name = 'RootCrlError';
  constructor(
    readonly path: string,
    why: string,
    options?: ErrorOptions,
  ) {
    super(`the root CRL ${path}: ${why}`, options);
  }
}

/**
 * Checks the root's CRL (`rampart ceremony root crl`) before the platform
 * publishes it: one PEM "X509 CRL" whose signature one of `roots` made. Its
 * freshness is the ceremony's schedule, not checked here: a stale CRL is
 * still the newest the root signed. Returns the PEM as read.
 */
export async function checkRootCrl(crlPem: string, roots: readonly X509Certificate[], path: string): Promise<string> {
  const blocks = crlPem.match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g) ?? [];
  const [block] = blocks;
  if (block === undefined || blocks.length !== 1) throw new RootCrlError(path, `it holds ${blocks.length} PEM "X509 CRL" blocks, not one`);
  let crl: x509.X509Crl;
  try {
    crl = new x509.X509Crl(block);
  } catch (error) {
    throw new RootCrlError(path, 'it does not parse as a CRL', { cause: error });
  }
  for (const root of roots) {
    if (await crl.verify({ publicKey: new x509.X509Certificate(root.raw) })) return crlPem;
  }
  throw new RootCrlError(path, `it is signed by none of the ${roots.length} root(s) (issuer ${crl.issuer})`);
}

export interface IssuingCaImport {
  /** `issuing.pem` from the ceremony: the issuing CA certificate (the first certificate in the file). */
  readonly issuingPem: string;
  /** The offline root(s): several while a root rotation is under way. */
  readonly rootsPem: string;
  /** The platform's token (or software key store) that holds the issuing key. */
  readonly provider: KeyProvider;
  readonly label?: string;
  readonly now?: Date;
}

/** The ceremony's certificates, checked without the token: the issuing CA and the roots it chains to. */
export interface CheckedIssuingCaCertificate {
  readonly certificate: X509Certificate;
  /** Every root in the roots file, in its order. */
  readonly roots: readonly X509Certificate[];
  /** The root that signed the issuing CA. */
  readonly root: X509Certificate;
}

/** The issuing CA, checked, ready to sign through its provider; and the roots it chains to. */
export interface ImportedIssuingCa extends CheckedIssuingCaCertificate {
  readonly key: KeyHandle;
  readonly signer: KeyProvider;
}

/**
 * The ONLINE side's import of the ceremony's output: `checkIssuingCaCertificate`
 * then `checkIssuingCaKey`. A service that must start while its token is
 * away runs the two apart: the files at start-up, the key when the token is there.
 */
export async function importIssuingCa(request: IssuingCaImport): Promise<ImportedIssuingCa> {
  const checked = checkIssuingCaCertificate(request);
  const key = await checkIssuingCaKey(checked.certificate, request.provider, request.label);
  return { ...checked, key, signer: request.provider };
}

/**
 * What needs no token: the issuing CA certificate must be signed by one of
 * the offline roots, be a CA with room for tenant CAs below it (pathLen ≥ 1,
 * RFC 5280 §4.2.1.9), may sign certificates (keyCertSign, §4.2.1.3) and be
 * valid now. These are the operator's files: a failure here is
 * IssuingCaChainError or IssuingCaConstraintsError, whatever the token does.
 */
export function checkIssuingCaCertificate(request: Pick<IssuingCaImport, 'issuingPem' | 'rootsPem' | 'now'>): CheckedIssuingCaCertificate {
  const [issuingPem] = certificatesInPemBundle(request.issuingPem);
  if (issuingPem === undefined) throw new IssuingCaConstraintsError('the issuing CA file holds no certificate');
  const certificate = new X509Certificate(issuingPem);
  const roots = certificatesInPemBundle(request.rootsPem).map((pem) => new X509Certificate(pem));
  if (roots.length === 0) throw new IssuingCaChainError('the roots file holds no certificate');
  const notRoot = roots.find((r) => !r.ca || r.issuer !== r.subject || !r.verify(r.publicKey));
  if (notRoot !== undefined)
    throw new IssuingCaChainError(`${notRoot.subject.replace(/\n/g, ', ')} in the roots file is not a self-signed CA`);
  const root = roots.find((r) => certificate.checkIssued(r) && certificate.verify(r.publicKey));
  if (root === undefined) {
    throw new IssuingCaChainError(
      `${certificate.subject.replace(/\n/g, ', ')} is signed by none of the ${roots.length} root(s) (issuer ${certificate.issuer.replace(/\n/g, ', ')})`,
    );
  }
  checkConstraints(certificate, request.now ?? new Date());
  return { certificate, roots, root };
}

/**
 * What needs the token: it holds the key under `label` and that key is the
 * certificate's. A key that is not there is the provider's KeyNotFoundError
 * (the token may be another one, or the key not made yet: it can change
 * while the service runs); a key that is there and is another is
 * IssuingCaKeyError, since signing with it would make certificates that
 * chain to nothing. The provider's own errors (token absent, PIN refused) go
 * on unchanged.
 */
export async function checkIssuingCaKey(
  certificate: X509Certificate,
  provider: Pick<KeyProvider, 'kind' | 'find' | 'publicKey'>,
  label: string = ISSUING_CA_KEY_LABEL,
): Promise<KeyHandle> {
  const key = await provider.find(label);
  if (key === undefined) throw new KeyNotFoundError(label, `the ${provider.kind} provider`);
  const publicKey = await provider.publicKey(label);
  if (!publicKey.equals(certificate.publicKey)) {
    throw new IssuingCaKeyError(label, "the provider's key is not the issuing CA certificate's key (another ceremony's certificate?)");
  }
  return key;
}

function checkConstraints(certificate: X509Certificate, now: Date): void {
  if (!certificate.ca) throw new IssuingCaConstraintsError('its basicConstraints do not say CA');
  const pathLength = pathLengthOf(certificate);
  if (pathLength !== undefined && pathLength < ISSUING_CA_PATH_LENGTH) {
    throw new IssuingCaConstraintsError(`its pathLen is ${pathLength}: a tenant CA below it needs at least ${ISSUING_CA_PATH_LENGTH}`);
  }
  if (!certificateSignAllowed(certificate)) throw new IssuingCaConstraintsError('its keyUsage lacks keyCertSign');
  const validFrom = new Date(certificate.validFrom);
  const validTo = new Date(certificate.validTo);
  if (now < validFrom || now > validTo) {
    throw new IssuingCaConstraintsError(`it is valid from ${validFrom.toISOString()} to ${validTo.toISOString()}, not now`);
  }
}

/** basicConstraints' pathLenConstraint (node:crypto shows only `ca`), parsed by @peculiar/asn1-x509; undefined when unlimited. */
function pathLengthOf(certificate: X509Certificate): number | undefined {
  const extension = extensionOf(certificate, id_ce_basicConstraints);
  return extension === undefined ? undefined : AsnConvert.parse(extension.extnValue.buffer, BasicConstraints).pathLenConstraint;
}

/** RFC 5280 §4.2.1.3: a CA certificate with keyUsage must assert keyCertSign to sign certificates. */
function certificateSignAllowed(certificate: X509Certificate): boolean {
  const extension = extensionOf(certificate, id_ce_keyUsage);
  return extension === undefined || (AsnConvert.parse(extension.extnValue.buffer, KeyUsage).toNumber() & KeyUsageFlags.keyCertSign) !== 0;
}

function extensionOf(certificate: X509Certificate, oid: string): Extension | undefined {
  return AsnConvert.parse(certificate.raw, Certificate).tbsCertificate.extensions?.find((e) => e.extnID === oid);
}
