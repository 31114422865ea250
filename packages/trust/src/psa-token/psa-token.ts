import type { KeyObject } from 'node:crypto';
import { MAX_PSA_TOKEN_BYTES } from '@rampart/contracts';
import { COSE_MAC0_TAG, verifyMac0 } from './cose-mac0.js';
import { CoseError, openCoseMessage, signSign1, verifySign1, type CoseFault } from './cose-sign1.js';
import { encodeClaims, parseClaims, PsaClaimError, type PsaClaims } from './psa-claims.js';
import { boundedDetail } from './refusal-detail.js';
import { CborRefusedError, decodeDeviceCbor, encodeCbor } from './strict-cbor.js';

/** Why a token was refused: its CBOR/COSE form, its algorithm, its signature, or a claim. */
export type PsaTokenFault = CoseFault | 'claim-invalid';

export type PsaTokenCheck =
  | { readonly ok: true; readonly claims: PsaClaims }
  /** `detail` names the rule (and the claim, for `claim-invalid`); at most `MAX_DETAIL_CHARS` long, whatever the token held. */
  | { readonly ok: false; readonly fault: PsaTokenFault; readonly detail: string };

/**
 * An RFC 9783 token: the claims as a CWT payload in a tagged COSE_Sign1, ES256. `sign` signs the Sig_structure
 * where the Initial Attestation Key lives and returns r ‖ s.
 */
export function createPsaToken(claims: PsaClaims, sign: (toBeSigned: Uint8Array) => Uint8Array): Uint8Array {
  return signSign1(encodeCbor(encodeClaims(claims)), sign);
}

function refusal(error: unknown): PsaTokenCheck {
  if (error instanceof CoseError) return { ok: false, fault: error.fault, detail: boundedDetail(error.message) };
  if (error instanceof PsaClaimError) return { ok: false, fault: 'claim-invalid', detail: boundedDetail(error.message) };
  if (error instanceof CborRefusedError) return { ok: false, fault: 'token-malformed', detail: boundedDetail(`claims: ${error.message}`) };
  throw error;
}

function readClaims(payload: Uint8Array): PsaClaims {
  return parseClaims(decodeDeviceCbor(payload));
}

/**
 * Verifies a PSA token against the IAK's public key: size, then the COSE_Sign1 structure and headers, then the
 * ES256 signature, and only then the claims (nothing the device wrote is interpreted before it is authentic).
 */
export function verifyPsaToken(token: Uint8Array, publicKey: KeyObject): PsaTokenCheck {
  if (token.length > MAX_PSA_TOKEN_BYTES)
    return { ok: false, fault: 'token-malformed', detail: `larger than ${MAX_PSA_TOKEN_BYTES} bytes` };
  try {
    const message = openCoseMessage(token);
    verifySign1(message, publicKey);
    return { ok: true, claims: readClaims(message.payload) };
  } catch (error) {
    return refusal(error);
  }
}

/**
 * The same for a COSE_Mac0 token with a symmetric IAK (RFC 9783 §5: allowed, not recommended). Kept for
 * interoperability checks against RFC 9783's example, so not in the package's public index: a device cannot attest to
 * Rampart with one, as the platform would have to hold every device's key.
 */
export function verifyPsaMacToken(token: Uint8Array, key: Uint8Array): PsaTokenCheck {
  if (token.length > MAX_PSA_TOKEN_BYTES)
    return { ok: false, fault: 'token-malformed', detail: `larger than ${MAX_PSA_TOKEN_BYTES} bytes` };
  try {
    const message = openCoseMessage(token, COSE_MAC0_TAG);
    verifyMac0(message, key);
    return { ok: true, claims: readClaims(message.payload) };
  } catch (error) {
    return refusal(error);
  }
}
