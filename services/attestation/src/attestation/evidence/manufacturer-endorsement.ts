import { X509Certificate } from 'node:crypto';
import { AttestationReason } from '@rampart/contracts';
import { spkiOf } from '@rampart/trust';
import type { AuthenticationRefusal } from './evidence-authenticator.js';

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

/** The manufacturer roots a device's identity certificate (IDevID) must chain to. */
export class ManufacturerEndorsement {
  private readonly roots: readonly X509Certificate[];

  constructor(manufacturerRootsPem: readonly string[]) {
    this.roots = manufacturerRootsPem.map((pem) => new X509Certificate(pem));
  }

  /** The certificate must be issued by a trusted manufacturer root, be in date, be for client auth and not a CA. */
  check(certificateDer: Uint8Array, now: number): { certificate: X509Certificate; spki: Buffer } | AuthenticationRefusal {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(Buffer.from(certificateDer));
    } catch {
      return { reason: AttestationReason.endorsementInvalid, detail: 'not a certificate' };
    }
    const issuedByRoot = this.roots.some((root) => certificate.checkIssued(root) && certificate.verify(root.publicKey));
    const inDate = new Date(certificate.validFrom).getTime() <= now && now <= new Date(certificate.validTo).getTime();
    const usages = certificate.keyUsage;
    const forClientAuth = usages === undefined || usages.includes(CLIENT_AUTH_OID);
    if (!issuedByRoot || !inDate || !forClientAuth || certificate.ca) {
      return { reason: AttestationReason.endorsementInvalid, detail: 'not an IDevID of a trusted manufacturer' };
    }
    return { certificate, spki: spkiOf(certificate.publicKey) };
  }
}
