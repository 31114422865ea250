import { X509Certificate, type KeyObject } from 'node:crypto';
import { signSubordinateCa, type SigningCa } from './ca-certificates.js';
import { TENANT_CA_PATH_LENGTH, commonNameOnly, spkiOf } from './offline-root.js';

export interface TenantCaRequest {
  readonly tenantId: string;
  /** The tenant CA's public key (its private half stays where it was made: a token, or the service's sealed store). */
  readonly publicKey: KeyObject;
  readonly validityDays: number;
  /** Where the issuer publishes the CRL that would revoke this tenant CA. */
  readonly crlDistributionPoint: string;
  readonly now?: Date;
}

/**
 * A tenant CA under the platform issuing CA: pathLen 0 (it signs devices
 * only), keyCertSign + cRLSign, SKI, AKI = the issuer's SKI, the tenant in a
 * URI SAN, the issuer's CRL distribution point; its validity cut to the
 * issuer's remaining life, since a relying party refuses a CA that outlives
 * its issuer. PEM.
 */
export async function signTenantCa(issuer: SigningCa, request: TenantCaRequest): Promise<string> {
  const now = request.now ?? new Date();
  const issuerLeftDays = Math.floor((new X509Certificate(issuer.certificate).validToDate.getTime() - now.getTime()) / 86_400_000);
  return signSubordinateCa(issuer, {
    subject: commonNameOnly(`Rampart tenant ${request.tenantId} CA`),
    subjectPublicKeyInfo: spkiOf(request.publicKey),
    pathLength: TENANT_CA_PATH_LENGTH,
    validityDays: Math.min(request.validityDays, issuerLeftDays),
    tenantId: request.tenantId,
    crlDistributionPoint: request.crlDistributionPoint,
    now,
  });
}
