import type { X509Certificate } from 'node:crypto';
import { deviceIdFromPublicKey } from './device-id.js';

export class PeerIdentityError extends Error {
  override readonly name = 'PeerIdentityError';
  constructor(
    message: string,
    readonly reason: 'no_certificate' | 'not_client_auth' | 'subject_mismatch',
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
