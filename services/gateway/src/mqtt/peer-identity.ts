import { X509Certificate } from 'node:crypto';
import type { DeviceCredential } from '@rampart/contracts';
import {
  PeerIdentityError,
  certificatesInPemBundle,
  deviceIdFromVerifiedCertificate,
  tenantOfOperationalCertificate,
} from '@rampart/trust';

/** Who a TLS peer is, from the client certificate the handshake verified. */
export interface PeerIdentity {
  /** The device id the certificate proves. */
  readonly certifiedId: string;
  /** 'identity' for the manufacturer's certificate (IDevID), 'operational' for one from a tenant CA (LDevID). */
  readonly credential: DeviceCredential;
  /** From the operational certificate; null on the manufacturer identity. */
  readonly tenantId: string | null;
}

export interface PeerIdentityRoots {
  /** Roots of device identities (IDevID): a device on one of these may only attest. */
  readonly manufacturerCaPem: string;
  /** The platform root that tenant CAs, and so operational certificates (LDevID), chain to. */
  readonly platformCaPem: string;
  /** Tenants whose devices this gateway serves; undefined serves every tenant. */
  readonly allowedTenants?: readonly string[] | undefined;
}

/**
 * Classifies a verified client certificate: which device, on which kind of
 * credential, in which tenant. Both kinds verify during the handshake
 * against the same trust list; which one it is decides the ACL.
 */
export class PeerIdentityClassifier {
  private readonly manufacturerRoots: readonly X509Certificate[];
  private readonly platformRoots: readonly X509Certificate[];
  private readonly allowedTenants: ReadonlySet<string> | undefined;
  /** Every root a device certificate may chain to, for the TLS server's `ca`. */
  readonly trustedCaPems: readonly string[];

  constructor(roots: PeerIdentityRoots) {
    const manufacturer = certificatesInPemBundle(roots.manufacturerCaPem);
    const platform = certificatesInPemBundle(roots.platformCaPem);
    this.manufacturerRoots = manufacturer.map((pem) => new X509Certificate(pem));
    this.platformRoots = platform.map((pem) => new X509Certificate(pem));
    this.allowedTenants = roots.allowedTenants === undefined ? undefined : new Set(roots.allowedTenants);
    this.trustedCaPems = [...manufacturer, ...platform];
  }

  /** Throws a PeerIdentityError (or the trust library's error) when the certificate names no device this gateway serves. */
  classify(certificate: X509Certificate | undefined): PeerIdentity {
    const certifiedId = deviceIdFromVerifiedCertificate(certificate);
    const credential = this.manufacturerRoots.some((root) => certificate?.checkIssued(root) === true && certificate.verify(root.publicKey))
      ? 'identity'
      : 'operational';
    let tenantId: string | null = null;
    if (credential === 'operational' && certificate !== undefined) {
      tenantId = tenantOfOperationalCertificate(certificate, certificate.issuerCertificate, this.platformRoots);
      if (this.allowedTenants !== undefined && !this.allowedTenants.has(tenantId)) {
        throw new PeerIdentityError(`tenant ${tenantId} is not served by this gateway`, 'wrong_tenant');
      }
    }
    return { certifiedId, credential, tenantId };
  }
}
