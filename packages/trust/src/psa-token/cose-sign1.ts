import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { Tag } from 'cbor2';
import { boundedDetail } from './refusal-detail.js';
import { bytesOf, type CborRefusedError, decodeDeviceCbor, encodeCbor } from './strict-cbor.js';

/*
 * COSE_Sign1 (RFC 9052) for one algorithm, ES256, on node:crypto. No npm COSE library is both kept and strict
 * enough here: cose-js (the most used) implements RFC 8152 over the pure-JS `elliptic`, and neither it nor
 * @auth0/cose or cose-kit refuses unknown critical headers or a label in both buckets. What remains is small: the
 * four-element structure, the header rules, and the Sig_structure the signature covers (CBOR by cbor2).
 */

/** COSE header labels (RFC 9052 §3.1). */
export const COSE_HEADER = { alg: 1, crit: 2, contentType: 3, kid: 4 } as const;
/** COSE algorithm identifiers (RFC 9053 §2.1, §3.1). */
export const COSE_ALG = { ES256: -7, HMAC256: 5 } as const;
/** CBOR tag of the single-signer structure (RFC 9052 §4.2); COSE_Mac0's is in cose-mac0.ts. */
export const COSE_SIGN1_TAG = 18;
/** ES256 signatures are r ‖ s, 32 bytes each (RFC 9053 §2.1), never DER. */
const ES256_SIGNATURE_BYTES = 64;

/** Why a COSE message was refused, before or at its signature. */
export type CoseFault = 'token-malformed' | 'algorithm-unsupported' | 'signature-invalid';

export class CoseError extends Error {
  override readonly name = 'CoseError';
  constructor(
    readonly fault: CoseFault,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A COSE_Sign1 or COSE_Mac0 taken apart, nothing verified yet. */
export interface CoseMessage {
  readonly tag: number;
  /** The protected header exactly as sent: what the signature covers. */
  readonly protectedBytes: Uint8Array;
  readonly protectedHeader: ReadonlyMap<unknown, unknown>;
  readonly unprotectedHeader: ReadonlyMap<unknown, unknown>;
  readonly payload: Uint8Array;
  /** The signature (Sign1) or the MAC tag (Mac0). */
  readonly authenticator: Uint8Array;
  readonly alg: number;
}

/** Header labels this code acts on; a `crit` naming any other is refused (RFC 9052 §3.1, "crit"). */
const UNDERSTOOD_LABELS: ReadonlySet<unknown> = new Set([COSE_HEADER.alg, COSE_HEADER.contentType, COSE_HEADER.kid]);

function malformed(message: string, cause?: unknown): never {
  throw new CoseError('token-malformed', message, cause === undefined ? undefined : { cause });
}

function isMap(value: unknown): value is Map<unknown, unknown> {
  return value instanceof Map;
}

/**
 * Takes a tagged COSE_Sign1 (or, for another `expectedTag`, the same-shaped COSE_Mac0) apart under RFC 9052 §3–§4: exactly four
 * elements; the protected header a byte string holding a map (the empty string only for an empty map, which
 * cannot carry `alg`, so refused here); the unprotected header a map; an attached payload (nil, a detached
 * payload, is refused: the token is the claims); the signature a byte string. A label may not sit in both
 * buckets (§3), `alg` must be protected, and `crit` (protected only, non-empty) may name only labels we process.
 */
export function openCoseMessage(bytes: Uint8Array, expectedTag: number = COSE_SIGN1_TAG): CoseMessage {
  let outer: unknown;
  try {
    outer = decodeDeviceCbor(bytes);
  } catch (error) {
    malformed(`not well-formed CBOR: ${boundedDetail((error as CborRefusedError).message)}`, error);
  }
  if (!(outer instanceof Tag) || Number(outer.tag) !== expectedTag) malformed(`not a tagged COSE structure ${expectedTag}`);
  const parts = outer.contents;
  if (!Array.isArray(parts) || parts.length !== 4) malformed('a COSE structure is an array of exactly four elements');
  const [protectedBytes, unprotectedHeader, payload, authenticator] = parts as unknown[];
  if (!(protectedBytes instanceof Uint8Array) || protectedBytes.length === 0)
    malformed('the protected header must be a non-empty byte string');
  if (!isMap(unprotectedHeader)) malformed('the unprotected header must be a map');
  if (payload === null) malformed('detached payloads are refused: the claims travel in the token');
  if (!(payload instanceof Uint8Array)) malformed('the payload must be a byte string');
  if (!(authenticator instanceof Uint8Array)) malformed('the signature must be a byte string');
  let protectedHeader: unknown;
  try {
    protectedHeader = decodeDeviceCbor(protectedBytes);
  } catch (error) {
    malformed(`protected header: ${boundedDetail((error as CborRefusedError).message)}`, error);
  }
  if (!isMap(protectedHeader)) malformed('the protected header must hold a map');
  for (const label of unprotectedHeader.keys()) {
    if (protectedHeader.has(label)) malformed(`header label ${boundedDetail(String(label))} is in both buckets`);
  }
  if (unprotectedHeader.has(COSE_HEADER.crit)) malformed('crit must be protected');
  const crit = protectedHeader.get(COSE_HEADER.crit);
  if (crit !== undefined) {
    if (!Array.isArray(crit) || crit.length === 0) malformed('crit must be a non-empty array of labels');
    for (const label of crit as unknown[]) {
      if (!UNDERSTOOD_LABELS.has(label))
        throw new CoseError('algorithm-unsupported', `critical header ${boundedDetail(String(label))} is not understood`);
    }
  }
  if (unprotectedHeader.has(COSE_HEADER.alg)) malformed('alg must be protected');
  const alg = protectedHeader.get(COSE_HEADER.alg);
  if (typeof alg !== 'number') throw new CoseError('algorithm-unsupported', 'no algorithm in the protected header');
  return { tag: expectedTag, protectedBytes, protectedHeader, unprotectedHeader, payload, authenticator, alg };
}

/** The bytes an ES256 signature covers: Sig_structure with context "Signature1" and empty external AAD (RFC 9052 §4.4). */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeCbor(['Signature1', bytesOf(protectedBytes), new Uint8Array(0), bytesOf(payload)]);
}

/** True if `key` is an EC P-256 public key: ES256 is ECDSA on that curve only (RFC 9053 §2.1). */
function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

/** Checks a Sign1 message's ES256 signature with `publicKey`; throws `CoseError` on any other algorithm or a bad signature. */
export function verifySign1(message: CoseMessage, publicKey: KeyObject): void {
  if (message.alg !== COSE_ALG.ES256) throw new CoseError('algorithm-unsupported', `algorithm ${message.alg} is not ES256`);
  if (!isP256(publicKey)) throw new CoseError('algorithm-unsupported', 'the verification key is not a P-256 key');
  if (message.authenticator.length !== ES256_SIGNATURE_BYTES) throw new CoseError('signature-invalid', 'an ES256 signature is 64 bytes');
  const signed = sigStructure(message.protectedBytes, message.payload);
  if (!cryptoVerify('sha256', signed, { key: publicKey, dsaEncoding: 'ieee-p1363' }, message.authenticator)) {
    throw new CoseError('signature-invalid', 'the signature does not verify');
  }
}

/**
 * Signs `payload` as a tagged COSE_Sign1 with ES256. `sign` receives the Sig_structure and returns the
 * signature as r ‖ s (64 bytes): it runs wherever the key lives (a device's security subsystem), which never
 * hands the key out.
 */
export function signSign1(
  payload: Uint8Array,
  sign: (toBeSigned: Uint8Array) => Uint8Array,
  /** Only for tests of what a verifier refuses: another protected header than `{ alg: ES256 }`. */
  protectedHeader: ReadonlyMap<number, unknown> = new Map([[COSE_HEADER.alg, COSE_ALG.ES256]]),
): Uint8Array {
  const protectedBytes = encodeCbor(protectedHeader);
  const signature = sign(sigStructure(protectedBytes, payload));
  return encodeCbor(new Tag(COSE_SIGN1_TAG, [protectedBytes, new Map(), bytesOf(payload), bytesOf(signature)]));
}

/** An ES256 signature over `data` with a P-256 private key, in COSE's r ‖ s form. */
export function es256Sign(data: Uint8Array, privateKey: KeyObject): Uint8Array {
  return bytesOf(cryptoSign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
}
