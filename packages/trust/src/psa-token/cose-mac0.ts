import { createHmac, timingSafeEqual } from 'node:crypto';
import { COSE_ALG, CoseError, type CoseMessage } from './cose-sign1.js';
import { bytesOf, encodeCbor } from './strict-cbor.js';

/*
 * COSE_Mac0 (RFC 9052 §6.2) with HMAC 256/256, only to check RFC 9783's MACed example token: Rampart does not
 * accept MACed tokens from devices (the platform would have to hold every device's key). Opened by
 * `openCoseMessage(bytes, COSE_MAC0_TAG)`, which applies the same header rules as to a Sign1.
 */

/** CBOR tag of the single-recipient MAC structure (RFC 9052 §6.2). */
export const COSE_MAC0_TAG = 17;

/** The bytes a Mac0 tag covers: MAC_structure with context "MAC0" (RFC 9052 §6.3). */
export function macStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeCbor(['MAC0', bytesOf(protectedBytes), new Uint8Array(0), bytesOf(payload)]);
}

/** Checks a Mac0 message's HMAC 256/256 tag with `key` (RFC 9053 §3.1). */
export function verifyMac0(message: CoseMessage, key: Uint8Array): void {
  if (message.alg !== COSE_ALG.HMAC256) throw new CoseError('algorithm-unsupported', `algorithm ${message.alg} is not HMAC 256/256`);
  const expected = createHmac('sha256', key).update(macStructure(message.protectedBytes, message.payload)).digest();
  if (message.authenticator.length !== expected.length || !timingSafeEqual(expected, message.authenticator)) {
    throw new CoseError('signature-invalid', 'the MAC does not verify');
  }
}
