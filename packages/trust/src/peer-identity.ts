import type { X509Certificate } from 'node:crypto';
import { deviceIdFromPublicKey } from './device-id.js';

export class PeerIdentityError extends Error {
  override readonly name = 'PeerIdentityError';
  constructor(
    message: string,
    readonly reason: 'no_certificate' | 'not_client_auth' | 'subject_mismatch' | 'wrong_tenant',
  ) {
    super(message);
  }
}

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

/**
 * Reads the device id from a client certificate that TLS has already
 * verified against the manufacturer CA, and checks that the certificate
 * names the device its key belongs to: the subject CN must equal the id
 * derived from the certificate's own public key. A manufacturer bug that
 * issues a certificate naming another device is refused here.
 */
export function deviceIdFromVerifiedCertificate(certificate: X509Certificate | undefined): string {
  if (certificate === undefined) throw new PeerIdentityError('no client certificate', 'no_certificate');
  const usages = certificate.keyUsage;
  if (usages !== undefined && !usages.includes(CLIENT_AUTH_OID)) {
    throw new PeerIdentityError('certificate is not for client authentication', 'not_client_auth');
  }
  const derived = deviceIdFromPublicKey(certificate.publicKey);
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(certificate.subject)?.[1];
  if (cn !== derived) {
    throw new PeerIdentityError(`certificate subject ${cn ?? '(none)'} does not match its key`, 'subject_mismatch');
  }
  return derived;
}

const TENANT_URI_PREFIX = 'urn:rampart:tenant:';

/** How tenant CAs and operational certificates name their tenant (a URI SAN). */
export function tenantUri(tenantId: string): string {
  return `${TENANT_URI_PREFIX}${tenantId}`;
}

/** The tenants a certificate names in its URI SANs. */
export function tenantsNamedBy(certificate: X509Certificate): string[] {
  const names = certificate.subjectAltName?.split(', ') ?? [];
  return names.filter((n) => n.startsWith(`URI:${TENANT_URI_PREFIX}`)).map((n) => n.slice(`URI:${TENANT_URI_PREFIX}`.length));
}

/**
 * The tenant of an operational certificate that TLS has verified up to the
 * platform root: it must name exactly one tenant, and its issuer — which
 * must have signed it — must be that tenant's CA. A tenant CA that signs a
 * certificate in another tenant's name is refused here.
 *
 * The tenant CA is signed by a platform root (two tiers, development) or by
 * the platform issuing CA that the offline root signed (three tiers): then
 * the issuing CA must come with the chain (the device sends it, as
 * `issuerCertificate` of the tenant CA; `intermediate` names it otherwise),
 * be a CA, and be signed by a root.
 */
export function tenantOfOperationalCertificate(
  leaf: X509Certificate,
  issuer: X509Certificate | undefined,
  platformRoots: readonly X509Certificate[],
  intermediate: X509Certificate | undefined = issuer?.issuerCertificate,
): string {
  const named = tenantsNamedBy(leaf);
  if (named.length !== 1 || named[0] === undefined) {
    throw new PeerIdentityError('operational certificate must name exactly one tenant', 'wrong_tenant');
  }
  // The chain a client sent is not proof of which CA signed: check every link
  // (a forged "issuer" could carry the real CA's key under another tenant's name).
  const signedBy = (child: X509Certificate, parent: X509Certificate) => child.checkIssued(parent) && child.verify(parent.publicKey);
  const underRoot = (ca: X509Certificate) => platformRoots.some((root) => signedBy(ca, root));
  const chained =
    issuer !== undefined &&
    signedBy(leaf, issuer) &&
    (underRoot(issuer) ||
      (intermediate !== undefined &&
        intermediate.ca &&
        !platformRoots.some((root) => root.fingerprint256 === intermediate.fingerprint256) &&
        signedBy(issuer, intermediate) &&
        underRoot(intermediate)));
  if (!chained) {
    throw new PeerIdentityError('operational certificate arrived without the tenant CA that signed it', 'wrong_tenant');
  }
  const issuerTenants = tenantsNamedBy(issuer);
  if (issuerTenants.length !== 1 || issuerTenants[0] !== named[0]) {
    throw new PeerIdentityError(
      `certificate for tenant ${named[0]} was issued by the CA of ${issuerTenants.join(',') || 'no tenant'}`,
      'wrong_tenant',
    );
  }
  return named[0];
}
