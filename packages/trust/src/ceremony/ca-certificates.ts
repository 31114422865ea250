import { createHash, randomBytes } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  CRLDistributionPoints,
  CRLNumber,
  Certificate,
  DistributionPoint,
  DistributionPointName,
  Extension,
  Extensions,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  type Name,
  RevokedCertificate,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  type SubjectPublicKeyInfo,
  TBSCertList,
  TBSCertificate,
  Time,
  Validity,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_cRLDistributionPoints,
  id_ce_cRLNumber,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { signCertificate, signCrl, signatureAlgorithmFor, type TbsSigner } from '../keys/certificate-signing.js';
import type { KeyHandle } from '../keys/key-provider.js';
import { x509 } from '../crypto-provider.js';
import { derToPem } from '../operational-issuer.js';
import { tenantUri } from '../peer-identity.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Backdate new certificates and CRLs a little, so a relying party whose clock is a few minutes behind accepts them. */
export const BACKDATE_MS = 5 * 60 * 1000;
/** What every CA at every tier may do, and only that: sign certificates and CRLs (RFC 5280 §4.2.1.3). */
export const CA_KEY_USAGE = KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign;
/** RFC 5280 §4.1.2.2: at most 20 octets, positive; 16 random octets keep ≥ 120 bits of entropy after the top bits are fixed. */
const SERIAL_BYTES = 16;

/**
 * A CA that can sign now: its certificate and the key that signs for it,
 * wherever that key is (a token through a KeyProvider, or a key opened for
 * one ceremony from its encrypted file).
 */
export interface SigningCa {
  /** The CA's certificate, DER. */
  readonly certificate: Buffer;
  readonly signer: TbsSigner;
  readonly key: KeyHandle;
}

/** What a CA certificate says about its subject; the issuer adds the rest (serial, issuer, AKI, signature). */
export interface CaCertificateSubject {
  readonly subject: Name;
  readonly subjectPublicKeyInfo: SubjectPublicKeyInfo;
  /** basicConstraints pathLenConstraint (RFC 5280 §4.2.1.9): how many CAs may stand below this one. */
  readonly pathLength: number;
  readonly validityDays: number;
  /** Where the issuer publishes the CRL that would revoke this certificate (RFC 5280 §4.2.1.13). */
  readonly crlDistributionPoint?: string;
  /** A tenant CA names its tenant in a URI SAN, as `CertificateAuthority.issueIntermediate` does. */
  readonly tenantId?: string;
  /** The time of issue; now unless a test says otherwise. */
  readonly now?: Date;
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's value. */
export function subjectKeyIdentifier(spki: SubjectPublicKeyInfo): Buffer {
  return createHash('sha1').update(new Uint8Array(spki.subjectPublicKey)).digest();
}

/** A CA's own key identifier: its SKI extension when it has one (another tool may derive it otherwise), else method 1. */
export function keyIdentifierOf(certificate: Certificate): Buffer {
  const ski = extensionOf(certificate, id_ce_subjectKeyIdentifier);
  return ski === undefined
    ? subjectKeyIdentifier(certificate.tbsCertificate.subjectPublicKeyInfo)
    : Buffer.from(AsnConvert.parse(ski.extnValue.buffer, SubjectKeyIdentifier).buffer);
}

/**
 * Who issues a CA's CRLs, as RFC 5280 §5.2.3 counts their CRL Numbers: the
 * CA's name and key (SHA-256 of the subject's DER, hex, ':' the key
 * identifier, hex). The same key certified again under the same name (a
 * new ceremony, another root) is the same issuer and its series goes on;
 * a new key or name starts another. Takes the certificate's DER.
 */
export function crlIssuerId(certificateDer: Uint8Array): string {
  const certificate = AsnConvert.parse(certificateDer, Certificate);
  const name = createHash('sha256')
    .update(new Uint8Array(AsnConvert.serialize(certificate.tbsCertificate.subject)))
    .digest('hex');
  return `${name}:${keyIdentifierOf(certificate).toString('hex')}`;
}

/** A certificate's basicConstraints (RFC 5280 §4.2.1.9): whether it is a CA, and its pathLenConstraint if it sets one. */
function constraintsOf(certificate: Certificate): BasicConstraints {
  const extension = extensionOf(certificate, id_ce_basicConstraints);
  return extension === undefined ? new BasicConstraints({ cA: false }) : AsnConvert.parse(extension.extnValue.buffer, BasicConstraints);
}

/**
 * A self-signed CA certificate (the offline root): issuer = subject, AKI = its
 * own SKI (RFC 5280 §4.2.1.1 lets a self-signed certificate carry one; OpenSSL's
 * `req -x509` writes the same). PEM.
 */
export async function signSelfSignedCa(signer: TbsSigner, key: KeyHandle, request: CaCertificateSubject): Promise<string> {
  const ownKeyId = subjectKeyIdentifier(request.subjectPublicKeyInfo);
  const tbs = caTbs(key, request.subject, ownKeyId, validityOf(request), request);
  return derToPem(await signCertificate(signer, key, tbs));
}

/**
 * A CA certificate one tier below `issuer`: the issuing CA under the root
 * (pathLen 1), a tenant CA under the issuing CA (pathLen 0). Refuses a path
 * length the issuer's own constraint does not leave room for, and a validity
 * that outlives the issuer, since relying parties would refuse the chain then
 * rather than now. PEM.
 */
export async function signSubordinateCa(issuer: SigningCa, request: CaCertificateSubject): Promise<string> {
  const issuerCertificate = AsnConvert.parse(issuer.certificate, Certificate);
  const { cA, pathLenConstraint } = constraintsOf(issuerCertificate);
  if (!cA) throw new RangeError('the issuer is not a CA (its basicConstraints say cA false, or it has none)');
  if (pathLenConstraint !== undefined && request.pathLength >= pathLenConstraint) {
    throw new RangeError(
      `under an issuer with pathLen ${pathLenConstraint} a CA's pathLen is below ${pathLenConstraint}, not ${request.pathLength}`,
    );
  }
  const validity = validityOf(request);
  const issuerExpiry = issuerCertificate.tbsCertificate.validity.notAfter.getTime();
  if (validity.notAfter.getTime() > issuerExpiry.getTime()) {
    throw new RangeError(
      `a CA valid until ${validity.notAfter.toISOString()} would outlive its issuer (valid until ${issuerExpiry.toISOString()})`,
    );
  }
  const tbs = caTbs(issuer.key, issuerCertificate.tbsCertificate.subject, keyIdentifierOf(issuerCertificate), validity, request);
  return derToPem(await signCertificate(issuer.signer, issuer.key, tbs));
}

/** One revoked certificate: its serial as hex (as certificates and `openssl x509 -serial` show it) and when it was revoked. */
export interface Revocation {
  readonly serial: string;
  readonly revokedAt: Date;
}

export interface CaCrlRequest {
  readonly revoked: readonly Revocation[];
  /** Days until the next CRL is due (nextUpdate, RFC 5280 §5.1.2.5): relying parties refuse the CRL, and the chain, after it. */
  readonly nextUpdateDays: number;
  /**
   * The CRL Number (RFC 5280 §5.2.3), which must increase from one CRL of this
   * CA to the next. Default: thisUpdate in seconds since 1970, which increases
   * without a counter kept anywhere, so two copies of an offline root's
   * directory (the machine and its backup) cannot issue the same number twice.
   */
  readonly crlNumber?: number;
  readonly now?: Date;
}

/** The CA's CRL (v2, AKI = the CA's key identifier, CRL Number), signed by its key; PEM ("X509 CRL", RFC 7468 §5). */
export async function signCaCrl(issuer: SigningCa, request: CaCrlRequest): Promise<string> {
  if (!(request.nextUpdateDays > 0)) throw new RangeError('a CRL is valid for a positive number of days');
  const issuerCertificate = AsnConvert.parse(issuer.certificate, Certificate);
  const now = request.now ?? new Date();
  const thisUpdate = new Date(now.getTime() - BACKDATE_MS);
  const crlNumber = request.crlNumber ?? Math.floor(now.getTime() / 1000);
  if (!Number.isSafeInteger(crlNumber) || crlNumber < 0) throw new RangeError('a CRL number is a non-negative integer');
  const tbs = new TBSCertList({
    version: Version.v2,
    signature: signatureAlgorithmFor(issuer.key.algorithm),
    issuer: issuerCertificate.tbsCertificate.subject,
    thisUpdate: new Time(thisUpdate),
    nextUpdate: new Time(new Date(now.getTime() + request.nextUpdateDays * DAY_MS)),
    // RFC 5280 §5.1.2.6: when no certificate is revoked the list is absent, not empty.
    revokedCertificates:
      request.revoked.length === 0
        ? undefined
        : request.revoked.map(
            (r) => new RevokedCertificate({ userCertificate: serialBytes(r.serial), revocationDate: new Time(r.revokedAt) }),
          ),
    crlExtensions: [
      extension(id_ce_authorityKeyIdentifier, false, authorityKeyIdentifier(keyIdentifierOf(issuerCertificate))),
      extension(id_ce_cRLNumber, false, new CRLNumber(crlNumber)),
    ],
  });
  return derToPem(await signCrl(issuer.signer, issuer.key, tbs), 'X509 CRL');
}

/**
 * When a CRL (PEM) says the next one is due (RFC 5280 §5.1.2.5): until then
 * a relying party may rely on it, so it may still be served when no newer
 * one can be signed. Undefined when it names no nextUpdate.
 */
export function crlNextUpdate(crlPem: string): Date | undefined {
  return new x509.X509Crl(crlPem).nextUpdate;
}

/** A certificate serial as hex, checked and normalised: lowercase, no leading zero octets, positive, at most 20 octets. */
export function normalizeSerial(serial: string): string {
  const hex = serial.trim().toLowerCase().replace(/^0x/, '').replace(/:/g, '').replace(/^0+/, '');
  if (!/^[0-9a-f]{1,40}$/.test(hex))
    throw new RangeError(`${JSON.stringify(serial)} is not a certificate serial: 1-20 octets of hex, not zero`);
  return hex.length % 2 === 1 ? `0${hex}` : hex;
}

function caTbs(
  signingKey: KeyHandle,
  issuer: Name,
  authorityKeyId: Buffer,
  { notBefore, notAfter }: { notBefore: Date; notAfter: Date },
  request: CaCertificateSubject,
): TBSCertificate {
  return new TBSCertificate({
    version: Version.v3,
    serialNumber: newSerialNumber(),
    signature: signatureAlgorithmFor(signingKey.algorithm),
    issuer,
    validity: new Validity({ notBefore, notAfter }),
    subject: request.subject,
    subjectPublicKeyInfo: request.subjectPublicKeyInfo,
    extensions: new Extensions([
      // RFC 5280 §4.2.1.9: critical in every CA certificate (and -x509_strict refuses a CA whose is not).
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: true, pathLenConstraint: request.pathLength })),
      extension(id_ce_keyUsage, true, new KeyUsage(CA_KEY_USAGE)),
      extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(subjectKeyIdentifier(request.subjectPublicKeyInfo))),
      extension(id_ce_authorityKeyIdentifier, false, authorityKeyIdentifier(authorityKeyId)),
      ...(request.tenantId === undefined
        ? []
        : [
            extension(
              id_ce_subjectAltName,
              false,
              new SubjectAlternativeName([new GeneralName({ uniformResourceIdentifier: tenantUri(request.tenantId) })]),
            ),
          ]),
      ...(request.crlDistributionPoint === undefined ? [] : [crlDistributionPoints(request.crlDistributionPoint)]),
    ]),
  });
}

function validityOf(request: CaCertificateSubject): { notBefore: Date; notAfter: Date } {
  if (!Number.isSafeInteger(request.validityDays) || request.validityDays <= 0) {
    throw new RangeError('a CA certificate is valid for a positive whole number of days');
  }
  const now = (request.now ?? new Date()).getTime();
  return { notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + request.validityDays * DAY_MS) };
}

function crlDistributionPoints(url: string): Extension {
  if (!URL.canParse(url)) throw new RangeError(`${JSON.stringify(url)} is not a URL for a CRL distribution point`);
  return extension(
    id_ce_cRLDistributionPoints,
    false,
    new CRLDistributionPoints([
      new DistributionPoint({
        distributionPoint: new DistributionPointName({ fullName: [new GeneralName({ uniformResourceIdentifier: url })] }),
      }),
    ]),
  );
}

function authorityKeyIdentifier(keyId: Buffer): AuthorityKeyIdentifier {
  return new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyId) });
}

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

function extensionOf(certificate: Certificate, oid: string): Extension | undefined {
  return certificate.tbsCertificate.extensions?.find((e) => e.extnID === oid);
}

/** 16 random octets, the first in 0x40–0x7f: positive, and DER's minimal encoding (no leading zero octet) at a fixed length. */
function newSerialNumber(): ArrayBuffer {
  const bytes = randomBytes(SERIAL_BYTES);
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return toArrayBuffer(bytes);
}

/** A serial's INTEGER content octets: a zero octet in front when the top bit is set, so the number stays positive. */
function serialBytes(serialHex: string): ArrayBuffer {
  const bytes = Buffer.from(normalizeSerial(serialHex), 'hex');
  return toArrayBuffer((bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.alloc(1), bytes]) : bytes);
}

function toArrayBuffer(bytes: Buffer): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
