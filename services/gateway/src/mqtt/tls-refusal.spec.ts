import { describe, expect, it } from 'vitest';
import { tlsRefusal } from './tls-refusal.js';

const hangUp = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

describe(tlsRefusal.name, () => {
  it('names the verification result Node hides behind "socket hang up"', () => {
    expect(tlsRefusal(hangUp, 'CERT_HAS_EXPIRED')).toEqual({ reason: 'certificate_expired', detail: 'CERT_HAS_EXPIRED' });
    expect(tlsRefusal(hangUp, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE')).toEqual({
      reason: 'certificate_untrusted',
      detail: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
    expect(tlsRefusal(hangUp, 'INVALID_PURPOSE')).toEqual({ reason: 'certificate_invalid', detail: 'INVALID_PURPOSE' });
  });

  it('tells a missing certificate, a timeout and any other failure apart', () => {
    const missing = Object.assign(new Error('peer did not return a certificate'), { code: 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' });
    expect(tlsRefusal(missing, null).reason).toBe('certificate_missing');
    expect(tlsRefusal(Object.assign(new Error('TLS handshake timeout'), { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' }), null).reason).toBe(
      'handshake_timeout',
    );
    expect(tlsRefusal(hangUp, null)).toEqual({ reason: 'tls_handshake_failed', detail: 'ECONNRESET' });
  });
});
