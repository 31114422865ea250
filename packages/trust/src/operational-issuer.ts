import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  RelativeDistinguishedName,
  AuthorityKeyIdentifier,
  BasicConstraints,
  CRLDistributionPoints,
  Certificate,
  DistributionPoint,
  DistributionPointName,
  Extension,
  ExtendedKeyUsage,
  Extensions,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_cRLDistributionPoints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
} from '@peculiar/asn1-x509';
import type { TbsSigner } from './keys/certificate-signing.js';
import type { KeyHandle } from './keys/key-provider.js';
import { tenantUri } from './peer-identity.js';

/** ecdsa-with-SHA256 (RFC 5758 §3.2): parameters absent. */
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
/** commonName (X.520). */
const ID_AT_COMMON_NAME = '2.5.4.3';
/** RFC 5280 §4.1.2.2: serials up to 20 octets; we use 16 random octets (≥ 64 bits of entropy). */
const SERIAL_BYTES = 16;

/**
 * A tenant CA key that lives in a KeyProvider (a token): the issuer builds
 * the TBS and the provider signs it, so the key never enters this process.
 */
export interface ProviderCaKey {
  readonly signer: TbsSigner;
  readonly key: KeyHandle;
}

export interface OperationalCertificateRequest {
  readonly deviceId: string;
  readonly tenantId: string;
  /** The device public key, DER SubjectPublicKeyInfo. */
  readonly subjectPublicKeySpki: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** A P-256 SubjectPublicKeyInfo is always 91 bytes: this 26-byte header, then 0x04 and the 64-byte point. */
const P256_SPKI_LENGTH = 91;
const P256_SPKI_HEADER = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
/** UTCTime covers 1950–2049 (RFC 5280 §4.1.2.5); later dates change the encoding's length. */
const LAST_UTC_TIME_MS = Date.UTC(2050, 0, 1);
const DEVICE_ID_LENGTH = 64;

const PLACEHOLDER = {
  serial: Buffer.alloc(SERIAL_BYTES, 0x5a),
  notBefore: new Date(Date.UTC(2001, 0, 1, 1, 1, 1)),
  notAfter: new Date(Date.UTC(2002, 1, 2, 2, 2, 2)),
  deviceId: 'Q'.repeat(DEVICE_ID_LENGTH),
  keyId: Buffer.alloc(20, 0x6b),
};

/** Offsets of the fields a certificate fills into the template. */
interface Slots {
  readonly serial: number;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly deviceId: readonly number[];
  readonly spki: number;
  readonly keyId: number;
}

/**
 * Issues operational device certificates (LDevID) for one tenant CA: P-256,
 * `clientAuth` only, `digitalSignature` critical, `CA:FALSE`, SKI/AKI, a
 * 128-bit random serial, device id and tenant in the subject alternative
 * name, signed with node:crypto; given a CRL distribution point, the URL
 * where this CA's CRL is published (RFC 5280 §4.2.1.13), so a relying
 * party that checks revocation knows where to look.
 *
 * Why a template: serialising the structure with @peculiar/asn1-x509 costs
 * about 1 ms per certificate (~790/s, and @peculiar/x509 ~260/s, measured in
 * bench/attestation-throughput.js), while P-256 signing costs ~50 µs. Every
 * per-device field has a fixed length (16-byte serial, UTCTime, 64-character
 * device id, 91-byte P-256 key, 20-byte key id), so the library serialises a
 * TBSCertificate once with placeholders and each issuance copies it and
 * writes the device's values over them: the DER structure itself always
 * comes from the library.
 */
export class OperationalCertificateIssuer {
  /** The CA key in this process (the fast synchronous path), or undefined when a provider holds it. */
  readonly #caKey: KeyObject | undefined;
  readonly #providerKey: ProviderCaKey | undefined;
  private readonly template: Buffer;
  private readonly slots: Slots;
  /** DER of AlgorithmIdentifier ecdsa-with-SHA256, appended after the TBS. */
  private readonly signatureAlgorithm: Buffer;

  /**
   * `caKey`: the CA's private key as PEM (signed here with node:crypto, the
   * synchronous path), or a provider and key handle (signed in the provider,
   * `issueWithSerialAsync` only). Either way the certificate is ecdsa-with-SHA256.
   */
  constructor(
    caCertificateDer: Uint8Array,
    caKey: string | ProviderCaKey,
    readonly tenantId: string,
    crlDistributionPoint?: string,
  ) {
    const ca = AsnConvert.parse(caCertificateDer, Certificate);
    if (typeof caKey === 'string') {
      this.#caKey = createPrivateKey(caKey);
    } else {
      // The template names ecdsa-with-SHA256: a key of another algorithm would sign something the certificate misnames.
      if (caKey.key.algorithm !== 'ecdsa-p256')
        throw new RangeError(`a tenant CA key is ECDSA P-256; ${caKey.key.label} is ${caKey.key.algorithm}`);
      this.#providerKey = caKey;
    }
    const ski = ca.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
    const authorityKeyId =
      ski !== undefined
        ? new Uint8Array(AsnConvert.parse(ski.extnValue.buffer, SubjectKeyIdentifier).buffer)
        : keyIdentifier(ca.tbsCertificate.subjectPublicKeyInfo);
    const placeholderSpki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
    const algorithm = new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 });
    this.signatureAlgorithm = Buffer.from(AsnConvert.serialize(algorithm));
    const tbs = new TBSCertificate({
      version: Version.v3,
      serialNumber: toArrayBuffer(PLACEHOLDER.serial),
      signature: algorithm,
      issuer: ca.tbsCertificate.subject,
      validity: new Validity({ notBefore: PLACEHOLDER.notBefore, notAfter: PLACEHOLDER.notAfter }),
      subject: new Name([
        new RelativeDistinguishedName([
          new AttributeTypeAndValue({ type: ID_AT_COMMON_NAME, value: new AttributeValue({ utf8String: PLACEHOLDER.deviceId }) }),
        ]),
      ]),
      subjectPublicKeyInfo: AsnConvert.parse(placeholderSpki, SubjectPublicKeyInfo),
      extensions: new Extensions([
        extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
        extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
        extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_clientAuth])),
        extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(PLACEHOLDER.keyId)),
        extension(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(authorityKeyId) })),
        extension(
          id_ce_subjectAltName,
          false,
          new SubjectAlternativeName([
            new GeneralName({ uniformResourceIdentifier: `urn:rampart:device:${PLACEHOLDER.deviceId}` }),
            new GeneralName({ uniformResourceIdentifier: tenantUri(tenantId) }),
          ]),
        ),
        ...(crlDistributionPoint === undefined
          ? []
          : [
              extension(
                id_ce_cRLDistributionPoints,
                false,
                new CRLDistributionPoints([
                  new DistributionPoint({
                    distributionPoint: new DistributionPointName({
                      fullName: [new GeneralName({ uniformResourceIdentifier: crlDistributionPoint })],
                    }),
                  }),
                ]),
              ),
            ]),
      ]),
    });
    this.template = Buffer.from(AsnConvert.serialize(tbs));
    this.slots = {
      serial: onlyOffset(this.template, PLACEHOLDER.serial, 'serial'),
      notBefore: onlyOffset(this.template, Buffer.from(utcTime(PLACEHOLDER.notBefore)), 'notBefore'),
      notAfter: onlyOffset(this.template, Buffer.from(utcTime(PLACEHOLDER.notAfter)), 'notAfter'),
      deviceId: allOffsets(this.template, Buffer.from(PLACEHOLDER.deviceId), 2, 'device id'),
      spki: onlyOffset(this.template, placeholderSpki, 'public key'),
      keyId: onlyOffset(this.template, PLACEHOLDER.keyId, 'key id'),
    };
  }

  issue(request: OperationalCertificateRequest): Buffer {
    return this.issueWithSerial(request).der;
  }

  /** The certificate and its serial number (lowercase hex, as `X509Certificate.serialNumber` gives it); the in-process key only. */
  issueWithSerial(request: OperationalCertificateRequest): { der: Buffer; serial: string } {
    const caKey = this.#caKey;
    if (caKey === undefined) throw new TypeError('this issuer signs through a key provider: use issueWithSerialAsync');
    const { tbs, serial } = this.tbsFor(request);
    return { der: this.assemble(tbs, sign('sha256', tbs, caKey)), serial };
  }

  /** As `issueWithSerial`, signed by whichever key this issuer holds: through the provider (a C_Sign in the token) or in process. */
  async issueWithSerialAsync(request: OperationalCertificateRequest): Promise<{ der: Buffer; serial: string }> {
    if (this.#providerKey === undefined) return this.issueWithSerial(request);
    const { tbs, serial } = this.tbsFor(request);
    const signature = await this.#providerKey.signer.sign(this.#providerKey.key, tbs);
    return { der: this.assemble(tbs, signature), serial };
  }

  /** The template filled with the request's values: checked first, since every field is written over a fixed-length slot. */
  private tbsFor(request: OperationalCertificateRequest): { tbs: Buffer; serial: string } {
    const spki = Buffer.from(request.subjectPublicKeySpki);
    if (spki.length !== P256_SPKI_LENGTH || !spki.subarray(0, P256_SPKI_HEADER.length).equals(P256_SPKI_HEADER) || spki[26] !== 0x04) {
      throw new RangeError('the subject key must be an uncompressed P-256 public key');
    }
    createPublicKey({ key: spki, format: 'der', type: 'spki' }); // throws unless the point is on the curve
    if (!/^[0-9a-f]{64}$/.test(request.deviceId)) throw new RangeError('a device id is 64 lowercase hex characters');
    if (request.notAfter.getTime() >= LAST_UTC_TIME_MS || request.notBefore.getTime() < Date.UTC(1950, 0, 1)) {
      throw new RangeError('validity must fall within 1950–2049 (UTCTime)');
    }
    if (request.notAfter <= request.notBefore) throw new RangeError('notAfter must be after notBefore');
    if (request.tenantId !== this.tenantId) throw new RangeError(`this issuer signs for tenant ${this.tenantId}`);

    const tbs = Buffer.from(this.template);
    const serial = randomBytes(SERIAL_BYTES);
    serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x01; // positive, and no leading zero octet DER would strip
    serial.copy(tbs, this.slots.serial);
    tbs.write(utcTime(request.notBefore), this.slots.notBefore, 'ascii');
    tbs.write(utcTime(request.notAfter), this.slots.notAfter, 'ascii');
    for (const offset of this.slots.deviceId) tbs.write(request.deviceId, offset, 'ascii');
    spki.copy(tbs, this.slots.spki);
    createHash('sha1').update(spki.subarray(P256_SPKI_HEADER.length)).digest().copy(tbs, this.slots.keyId);
    return { tbs, serial: serial.toString('hex') };
  }

  /** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING } (RFC 5280 §4.1); DER. */
  private assemble(tbs: Buffer, signature: Buffer): Buffer {
    const bitString = Buffer.concat([Buffer.from([0x03]), derLength(signature.length + 1), Buffer.from([0x00]), signature]);
    const body = Buffer.concat([tbs, this.signatureAlgorithm, bitString]);
    return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
  }
}

/** UTCTime text, YYMMDDHHMMSSZ (X.680 §47; DER requires seconds and Z). */
function utcTime(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

/** DER definite length octets (X.690 §8.1.3). */
function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function allOffsets(haystack: Buffer, needle: Buffer, expected: number, what: string): number[] {
  const found: number[] = [];
  for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + 1)) found.push(i);
  if (found.length !== expected) throw new Error(`certificate template: ${what} found ${found.length} times, expected ${expected}`);
  return found;
}

function onlyOffset(haystack: Buffer, needle: Buffer, what: string): number {
  return allOffsets(haystack, needle, 1, what)[0] ?? -1;
}

function toArrayBuffer(bytes: Buffer): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING value. */
function keyIdentifier(spki: SubjectPublicKeyInfo): Uint8Array {
  return createHash('sha1').update(new Uint8Array(spki.subjectPublicKey)).digest();
}

export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const base64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${base64.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}
