import { DenialReason, type DenialReasonValue } from '@rampart/contracts';

/** OpenSSL verification results (as Node reports them) that mean the certificate is outside its validity period. */
const OUT_OF_VALIDITY = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
/** Results that mean the certificate does not chain to a root the gateway trusts: unknown CA, missing intermediate, bad signature. */
const UNTRUSTED = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
]);

export interface TlsRefusal {
  readonly reason: DenialReasonValue;
  /** The OpenSSL verification result or Node error code behind it, for the log. */
  readonly detail: string;
}

/**
 * Why a TLS handshake failed, from what Node leaves behind. Node verifies
 * the client certificate itself after OpenSSL's handshake and, when it is
 * refused, destroys the socket without a TLS alert (Node has no API to send
 * one), so the error it reports is only "socket hang up"; the verification
 * result is on the socket's `authorizationError`. Only a missing
 * certificate is refused by OpenSSL itself, with the alert TLS defines
 * (certificate_required in 1.3, handshake_failure in 1.2).
 */
export function tlsRefusal(error: Error & { code?: string }, authorizationError: unknown): TlsRefusal {
  if (error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return { reason: DenialReason.handshakeTimeout, detail: error.code };
  if (error.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return { reason: DenialReason.certificateMissing, detail: error.code };
  const verification =
    authorizationError instanceof Error
      ? ((authorizationError as { code?: string }).code ?? authorizationError.message)
      : authorizationError;
  if (typeof verification === 'string' && verification !== '') {
    if (OUT_OF_VALIDITY.has(verification)) return { reason: DenialReason.certificateExpired, detail: verification };
    if (UNTRUSTED.has(verification)) return { reason: DenialReason.certificateUntrusted, detail: verification };
    return { reason: DenialReason.certificateInvalid, detail: verification };
  }
  return { reason: DenialReason.tlsHandshakeFailed, detail: error.code ?? error.message };
}
