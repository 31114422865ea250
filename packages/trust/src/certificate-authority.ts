import { createPrivateKey, randomBytes } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber, GeneralName, SubjectAlternativeName, id_ce_cRLNumber, id_ce_subjectAltName } from '@peculiar/asn1-x509';
import { hardwareModuleNameGeneralName } from './tpm/hardware-module-name.js';
import { EC_P256, ECDSA_SHA256, subtle, x509 } from './crypto-provider.js';
import { tenantUri } from './peer-identity.js';

export const DEFAULT_CA_VALIDITY_DAYS = 3650;
export const DEFAULT_DEVICE_IDENTITY_VALIDITY_DAYS = 7300;
export const DEFAULT_SERVER_CERT_VALIDITY_DAYS = 397;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Backdate new certificates a little so small clock skew does not reject them. */
const BACKDATE_MS = 5 * 60 * 1000;

function serial(): string {
  // Positive 16-byte serial (RFC 5280 §4.1.2.2: at most 20 octets, positive).
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + days * DAY_MS) };
}

/** What a CA needs to be stored and loaded again; the private key is PKCS#8 PEM. */
export interface StoredCertificateAuthority {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

export interface IssuedServerCertificate {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

/**
 * A certificate authority whose private key stays inside this object: it
 * signs, it does not hand the key out (except to `export()`, used only to
 * persist a development CA on the operator's own disk).
 */
export class CertificateAuthority {
  readonly #signingKey: CryptoKey;
  readonly certificate: x509.X509Certificate;

  private constructor(certificate: x509.X509Certificate, signingKey: CryptoKey) {
    this.certificate = certificate;
    this.#signingKey = signingKey;
  }

  /**
   * The authority key identifier of what this CA signs: its own subject key
   * identifier when its certificate has one (RFC 5280 §4.2.1.1), since
   * another tool may have derived that differently from ours (Helm's
   * genCA, Go's x509, an HSM's CA). A mismatch makes TLS stacks look for
   * an issuer that is not there, and refuse the chain.
   */
  private async authorityKeyIdentifier(): Promise<x509.AuthorityKeyIdentifierExtension> {
    const subjectKeyId = this.certificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    return subjectKeyId === undefined
      ? x509.AuthorityKeyIdentifierExtension.create(this.certificate.publicKey)
      : new x509.AuthorityKeyIdentifierExtension(subjectKeyId);
  }

  get certificatePem(): string {
    return this.certificate.toString('pem');
  }

  /**
   * A self-signed root. `pathLength` 0 for a CA that signs end-entity
   * certificates directly (a manufacturer CA), 1 for the platform root that
   * signs tenant intermediates.
   */
  static async create(commonName: string, validityDays = DEFAULT_CA_VALIDITY_DAYS, pathLength = 0): Promise<CertificateAuthority> {
    const keys = await subtle.generateKey(EC_P256, true, ['sign', 'verify']);
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=${commonName}`,
      ...validity(validityDays),
      keys,
      signingAlgorithm: ECDSA_SHA256,
      extensions: [
        new x509.BasicConstraintsExtension(true, pathLength, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new CertificateAuthority(certificate, keys.privateKey);
  }

  /**
   * An intermediate CA (`pathlen:0`): it signs device certificates only. A
   * tenant CA names its tenant in a URI SAN, so a relying party can check
   * that each certificate it issued is for that tenant and no other; and,
   * given `crlDistributionPoint`, says where this CA's issuer publishes
   * the CRL that would revoke it (RFC 5280 §4.2.1.13).
   */
  async issueIntermediate(
    commonName: string,
    validityDays: number,
    options: { readonly notBefore?: Date; readonly tenantId?: string; readonly crlDistributionPoint?: string } = {},
  ): Promise<CertificateAuthority> {
    const { notBefore, tenantId, crlDistributionPoint } = options;
    const keys = await subtle.generateKey(EC_P256, true, ['sign', 'verify']);
    const window = validity(validityDays);
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${commonName}`,
      issuer: this.certificate.subject,
      notBefore: notBefore ?? window.notBefore,
      notAfter: new Date((notBefore ?? window.notBefore).getTime() + validityDays * DAY_MS),
      publicKey: keys.publicKey,
      signingKey: this.#signingKey,
      signingAlgorithm: ECDSA_SHA256,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await this.authorityKeyIdentifier(),
        ...(tenantId === undefined ? [] : [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: tenantUri(tenantId) }])]),
        ...(crlDistributionPoint === undefined ? [] : [new x509.CRLDistributionPointsExtension([crlDistributionPoint])]),
      ],
    });
    return new CertificateAuthority(certificate, keys.privateKey);
  }

  static async load(stored: StoredCertificateAuthority): Promise<CertificateAuthority> {
    const certificate = new x509.X509Certificate(stored.certificatePem);
    // PKCS #8 or SEC 1 ("EC PRIVATE KEY", as openssl ecparam and Helm's genPrivateKey write it): WebCrypto takes PKCS #8 only.
    const der = createPrivateKey(stored.privateKeyPem).export({ type: 'pkcs8', format: 'der' });
    const signingKey = await subtle.importKey('pkcs8', der, EC_P256, true, ['sign']);
    return new CertificateAuthority(certificate, signingKey);
  }

  async export(): Promise<StoredCertificateAuthority> {
    const pkcs8 = await subtle.exportKey('pkcs8', this.#signingKey);
    return {
      certificatePem: this.certificatePem,
      privateKeyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    };
  }

  /**
   * Issues a manufacturer-endorsed device identity (IDevID, IEEE 802.1AR
   * style): subject CN and a URI SAN carry the device id; clientAuth only. With `hardwareModule`, the SAN also
   * names the hardware module bound to the device (RFC 4108 hardwareModuleName; for a TPM, its EK).
   */
  async issueDeviceIdentity(
    deviceId: string,
    subjectPublicKeySpki: Uint8Array,
    validityDays = DEFAULT_DEVICE_IDENTITY_VALIDITY_DAYS,
    hardwareModule?: { readonly hwType: string; readonly serial: Uint8Array },
  ): Promise<x509.X509Certificate> {
    const deviceUri = new GeneralName({ uniformResourceIdentifier: `urn:rampart:device:${deviceId}` });
    const names = new SubjectAlternativeName([
      deviceUri,
      ...(hardwareModule === undefined ? [] : [hardwareModuleNameGeneralName(hardwareModule.hwType, hardwareModule.serial)]),
    ]);
    const publicKey = await subtle.importKey('spki', new Uint8Array(subjectPublicKeySpki), EC_P256, true, ['verify']);
    return x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${deviceId}`,
      issuer: this.certificate.subject,
      ...validity(validityDays),
      publicKey,
      signingKey: this.#signingKey,
      signingAlgorithm: ECDSA_SHA256,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
        new x509.Extension(id_ce_subjectAltName, false, AsnConvert.serialize(names)),
        await this.authorityKeyIdentifier(),
      ],
    });
  }

  /**
   * A CRL (RFC 5280 §5) listing `entries`, valid until `nextUpdate`; PEM.
   * Serial numbers are hex as certificates carry them. `crlNumber` is the
   * CRL Number every CRL must carry (§5.2.3): the caller keeps it
   * increasing from one CRL of this CA to the next.
   */
  async issueCrl(
    entries: ReadonlyArray<{ serialHex: string; revokedAt: Date }>,
    thisUpdate: Date,
    nextUpdate: Date,
    crlNumber: number,
  ): Promise<string> {
    if (!Number.isSafeInteger(crlNumber) || crlNumber < 0) throw new RangeError('a CRL number is a non-negative integer');
    const crl = await x509.X509CrlGenerator.create({
      issuer: this.certificate.subject,
      thisUpdate,
      nextUpdate,
      signingKey: this.#signingKey,
      signingAlgorithm: ECDSA_SHA256,
      extensions: [
        await this.authorityKeyIdentifier(),
        new x509.Extension(id_ce_cRLNumber, false, AsnConvert.serialize(new CRLNumber(crlNumber))),
      ],
      entries: entries.map((e) => ({ serialNumber: e.serialHex, revocationDate: e.revokedAt })),
    });
    // OpenSSL and most relying parties read the RFC 7468 label "X509 CRL".
    return x509.PemConverter.encode(crl.rawData, 'X509 CRL');
  }

  /** Issues a TLS server certificate (serverAuth) for the given DNS names and IPs. */
  async issueServerCertificate(
    commonName: string,
    dnsNames: readonly string[],
    ipAddresses: readonly string[],
    validityDays = DEFAULT_SERVER_CERT_VALIDITY_DAYS,
  ): Promise<IssuedServerCertificate> {
    const keys = await subtle.generateKey(EC_P256, true, ['sign', 'verify']);
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${commonName}`,
      issuer: this.certificate.subject,
      ...validity(validityDays),
      publicKey: keys.publicKey,
      signingKey: this.#signingKey,
      signingAlgorithm: ECDSA_SHA256,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension([
          ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
          ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
        ]),
      ],
    });
    const pkcs8 = await subtle.exportKey('pkcs8', keys.privateKey);
    return { certificatePem: certificate.toString('pem'), privateKeyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
  }
}
