import { verify as cryptoVerify, type KeyObject } from 'node:crypto';

/**
 * Prefix of every signature an app gets from `auth.sign`, signed with the data (a device's security subsystem, `appSign` in the emulator). The device key is
 * also the Initial Attestation Key and the TLS client key; a signature over "prefix ‖ data" can be neither an
 * attestation token's (whose signed bytes begin with the CBOR array header 0x84, RFC 9052 §4.4) nor a TLS
 * CertificateVerify (TLS 1.3 signs 64 spaces first, RFC 8446 §4.4.3; TLS 1.2 a hash of handshake messages that
 * begin with a ClientHello, type 0x01). Whoever verifies an app signature verifies the same bytes:
 * `verifyAppSignature`.
 */
export const APP_SIGNATURE_CONTEXT = 'rampart app signature v1\u0000';

/** The bytes an app signature covers: `APP_SIGNATURE_CONTEXT` ‖ data. */
export function appSignedBytes(data: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(APP_SIGNATURE_CONTEXT, 'utf8'), data]);
}

/** Verifies a signature `appSign` made (DER ECDSA P-256 / SHA-256) with the device's public key. */
export function verifyAppSignature(publicKey: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  return cryptoVerify('sha256', appSignedBytes(data), publicKey, signature);
}
