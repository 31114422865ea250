import { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber, id_ce_cRLNumber } from '@peculiar/asn1-x509';
import { x509 } from '../crypto-provider.js';
import { certificatesInPemBundle } from '../device-id.js';
import { KeyNotFoundError } from '../keys/key-errors.js';
import type { KeyHandle, KeyProvider } from '../keys/key-provider.js';
import { normalizeSerial } from './ca-certificates.js';
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

/** The issuing CA certificate is not one that may sign tenant CAs: not a CA, pathLen below 1, no keyCertSign or cRLSign, or not valid now. */
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

/** The root's CRL lists the issuing CA: the offline root revoked it, and nothing it signs would be trusted. */
export class IssuingCaRevokedError extends IssuingCaImportError {
  override readonly name = 'IssuingCaRevokedError';
  constructor(
    readonly serial: string,
    readonly path: string,
  ) {
    super(`the issuing CA (serial ${serial}) is revoked by the root CRL ${path}: a new ceremony must sign another`);
  }
}

/** RFC 7468 §5: a CRL's PEM label. */
const CRL_PEM_TYPE = 'X509 CRL';

/** The root's CRL, checked: as read, who signed it, its number and what it revokes. */
export interface CheckedRootCrl {
  readonly pem: string;
  /** The root whose signature it bears. */
  readonly signedBy: X509Certificate;
  /** Its CRL Number (RFC 5280 §5.2.3): a later CRL of the same root never has a lower one. */
  readonly crlNumber: number;
  /** The serials it lists, normalised (`normalizeSerial`). */
  readonly revokedSerials: ReadonlySet<string>;
}

/**
 * Checks the root's CRL (`rampart ceremony root crl`) before the platform
 * publishes it: one PEM "X509 CRL" whose signature one of `roots` made,
 * with a CRL Number. Its freshness is the ceremony's schedule, not checked
 * here: a stale CRL is still the newest the root signed.
 */
export async function checkRootCrl(crlPem: string, roots: readonly X509Certificate[], path: string): Promise<CheckedRootCrl> {
  const blocks = x509.PemConverter.decodeWithHeaders(crlPem);
  const [block] = blocks;
  if (block === undefined || blocks.length !== 1 || block.type !== CRL_PEM_TYPE) {
    throw new RootCrlError(path, `it holds ${blocks.length} PEM block(s), not one "X509 CRL"`);
  }
  let crl: x509.X509Crl;
  try {
    crl = new x509.X509Crl(block.rawData);
  } catch (error) {
    throw new RootCrlError(path, 'it does not parse as a CRL', { cause: error });
  }
  const crlNumber = crl.getExtension(id_ce_cRLNumber);
  if (crlNumber === null) throw new RootCrlError(path, 'it has no CRL Number (RFC 5280 §5.2.3)');
  for (const root of roots) {
    if (await crl.verify({ publicKey: new x509.X509Certificate(root.raw) })) {
      return {
        pem: crlPem,
        signedBy: root,
        crlNumber: AsnConvert.parse(crlNumber.value, CRLNumber).value,
        revokedSerials: new Set(crl.entries.map((entry) => normalizeSerial(entry.serialNumber))),
      };
    }
  }
  throw new RootCrlError(path, `it is signed by none of the ${roots.length} root(s) (issuer ${crl.issuer})`);
}

/** Refuses an issuing CA that the root which signed it lists in its CRL (IssuingCaRevokedError); another root's CRL says nothing of it. */
export function refuseRevokedIssuingCa(
  checked: Pick<CheckedIssuingCaCertificate, 'certificate' | 'root'>,
  crl: CheckedRootCrl,
  path: string,
): void {
  if (crl.signedBy.fingerprint256 !== checked.root.fingerprint256) return;
  const serial = normalizeSerial(checked.certificate.serialNumber);
  if (crl.revokedSerials.has(serial)) throw new IssuingCaRevokedError(serial, path);
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
 * RFC 5280 §4.2.1.9), may sign certificates and CRLs (keyCertSign and
 * cRLSign, §4.2.1.3) and be
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
  const parsed = new x509.X509Certificate(certificate.raw);
  const basicConstraints = parsed.getExtension(x509.BasicConstraintsExtension);
  if (basicConstraints?.ca !== true) throw new IssuingCaConstraintsError('its basicConstraints do not say CA');
  const pathLength = basicConstraints.pathLength; // undefined: unlimited
  if (pathLength !== undefined && pathLength < ISSUING_CA_PATH_LENGTH) {
    throw new IssuingCaConstraintsError(`its pathLen is ${pathLength}: a tenant CA below it needs at least ${ISSUING_CA_PATH_LENGTH}`);
  }
  // RFC 5280 §4.2.1.3: the issuing CA signs tenant CAs (keyCertSign) and its own CRL (cRLSign), which relying parties
  // refuse from a key without it. No keyUsage at all would allow both, but every CA certificate of ours asserts them.
  const usages = parsed.getExtension(x509.KeyUsagesExtension)?.usages;
  if (usages === undefined) throw new IssuingCaConstraintsError('it has no keyUsage (keyCertSign and cRLSign are required)');
  const missing = [
    ['keyCertSign', x509.KeyUsageFlags.keyCertSign],
    ['cRLSign', x509.KeyUsageFlags.cRLSign],
  ].filter(([, flag]) => (usages & (flag as number)) === 0);
  if (missing.length > 0) throw new IssuingCaConstraintsError(`its keyUsage lacks ${missing.map(([name]) => name).join(' and ')}`);
  const validFrom = new Date(certificate.validFrom);
  const validTo = new Date(certificate.validTo);
  if (now < validFrom || now > validTo) {
    throw new IssuingCaConstraintsError(`it is valid from ${validFrom.toISOString()} to ${validTo.toISOString()}, not now`);
  }
}
