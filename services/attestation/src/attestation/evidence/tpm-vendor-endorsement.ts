import { X509Certificate } from 'node:crypto';
import { endorsementKeyFaults, publicKeyOf, spkiOf, type TpmPublic } from '@rampart/trust';

/** TCG EK Credential Profile §3.2.16: the EK certificate's extended key usage, tcg-kp-EKCertificate. */
const TCG_KP_EK_CERTIFICATE = '2.23.133.8.1';

/** Certificates between an EK certificate and its root at most: vendors use one or two issuing CAs. */
const MAX_INTERMEDIATES = 4;

function inDate(certificate: X509Certificate, now: number): boolean {
  return new Date(certificate.validFrom).getTime() <= now && now <= new Date(certificate.validTo).getTime();
}

function selfIssued(certificate: X509Certificate): boolean {
  return certificate.checkIssued(certificate) && certificate.verify(certificate.publicKey);
}

/**
 * The TPM vendors whose EK certificates the platform trusts (TPM_VENDOR_CA_FILE): their roots (self-signed CA
 * certificates, the anchors) and the issuing CAs below them (any other CA certificate in the file). An EK
 * certificate is trusted when a path leads from it through intermediates to an anchor, each certificate signed by
 * the next, every issuer a CA (basicConstraints) and every certificate in date. The bundle is checked when built:
 * a certificate that is no CA is refused, naming it.
 */
export class TpmVendorEndorsement {
  private readonly anchors: readonly X509Certificate[];
  private readonly intermediates: readonly X509Certificate[];

  constructor(vendorPem: readonly string[]) {
    const certificates = vendorPem.map((pem) => new X509Certificate(pem));
    const notCa = certificates.find((c) => !c.ca);
    if (notCa !== undefined) throw new Error(`"${notCa.subject}" is not a CA certificate`);
    this.anchors = certificates.filter(selfIssued);
    if (this.anchors.length === 0) throw new Error('no self-signed root among the TPM vendor certificates');
    this.intermediates = certificates.filter((c) => !selfIssued(c));
  }

  /**
   * Why the EK and its certificate are not trusted (undefined when they are): the EK fit for a credential
   * (endorsementKeyFaults), its certificate chaining to a vendor root, in date, an end entity for tcg-kp-EKCertificate
   * (when it names usages), and for this EK.
   */
  check(ek: TpmPublic, certificateDer: Uint8Array, now: number): string | undefined {
    const ekFaults = endorsementKeyFaults(ek);
    if (ekFaults.length > 0) return `EK template: ${ekFaults.join(', ')}`;
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(Buffer.from(certificateDer));
    } catch {
      return 'EK certificate does not parse';
    }
    if (!inDate(certificate, now)) return 'EK certificate out of date';
    if (certificate.ca) return 'EK certificate is a CA';
    const usages = certificate.keyUsage;
    if (usages !== undefined && !usages.includes(TCG_KP_EK_CERTIFICATE)) return 'EK certificate lacks tcg-kp-EKCertificate';
    const pathFault = this.pathFault(certificate, now);
    if (pathFault !== undefined) return pathFault;
    let ekKey;
    try {
      ekKey = publicKeyOf(ek);
    } catch (error) {
      return `EK public: ${String(error)}`;
    }
    if (!spkiOf(certificate.publicKey).equals(spkiOf(ekKey))) return 'the EK certificate is for another key';
    return undefined;
  }

  /** A path from `leaf` to an anchor through `intermediates` (each a CA, in date, signing the one below), or why not. */
  private pathFault(leaf: X509Certificate, now: number): string | undefined {
    const signs = (issuer: X509Certificate, subject: X509Certificate) =>
      issuer.ca && subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
    let current = leaf;
    const used = new Set<X509Certificate>();
    for (let depth = 0; depth <= MAX_INTERMEDIATES; depth += 1) {
      const anchor = this.anchors.find((a) => signs(a, current));
      if (anchor !== undefined) return inDate(anchor, now) ? undefined : `TPM vendor root "${anchor.subject}" out of date`;
      const next = this.intermediates.find((c) => !used.has(c) && signs(c, current));
      if (next === undefined) return `EK certificate issuer "${current.issuer}" is not a trusted TPM vendor`;
      if (!inDate(next, now)) return `TPM vendor CA "${next.subject}" out of date`;
      used.add(next);
      current = next;
    }
    return `EK certificate path longer than ${MAX_INTERMEDIATES} intermediates`;
  }
}
