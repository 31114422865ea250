import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { MAX_DIGEST_BYTES, TPM_HASHES, TpmAlg, TpmEccCurve, TpmaObject } from './tpm-constants.js';
import { TpmFormatError, TpmReader } from './tpm-reader.js';

/** TPMT_SYM_DEF_OBJECT, when not TPM_ALG_NULL. */
export interface TpmSymmetric {
  readonly algorithm: number;
  readonly keyBits: number;
  readonly mode: number;
}

interface PublicCommon {
  /** The TPMT_PUBLIC bytes exactly as received: the Name is their digest. */
  readonly bytes: Buffer;
  readonly nameAlg: number;
  readonly attributes: number;
  readonly authPolicy: Buffer;
  readonly symmetric: TpmSymmetric | undefined;
  /** The signing or encryption scheme, TPM_ALG_NULL if none; with its hash when the scheme has one. */
  readonly scheme: number;
  readonly schemeHash: number | undefined;
}

export type TpmPublic =
  | (PublicCommon & { readonly type: 'rsa'; readonly keyBits: number; readonly exponent: number; readonly modulus: Buffer })
  | (PublicCommon & { readonly type: 'ecc'; readonly curve: number; readonly x: Buffer; readonly y: Buffer });

const MAX_RSA_BYTES = 512;
const MAX_ECC_BYTES = 66;
const MAX_POLICY_BYTES = MAX_DIGEST_BYTES;
const CURVES: ReadonlyMap<number, { readonly jwk: string; readonly size: number }> = new Map([
  [TpmEccCurve.nistP256, { jwk: 'P-256', size: 32 }],
  [TpmEccCurve.nistP384, { jwk: 'P-384', size: 48 }],
  [TpmEccCurve.nistP521, { jwk: 'P-521', size: 66 }],
]);

/** TPM2B_PUBLIC (Part 2 §12.2.5): the size, then a TPMT_PUBLIC that fills it exactly. RSA and ECC keys only. */
export function parseTpm2bPublic(bytes: Uint8Array): TpmPublic {
  const outer = new TpmReader(Buffer.from(bytes), 'TPM2B_PUBLIC');
  const inner = outer.sized(0xffff, 'publicArea');
  outer.end();
  return parseTpmtPublic(inner);
}

/** TPMT_PUBLIC (Part 2 §12.2.4). */
export function parseTpmtPublic(bytes: Uint8Array): TpmPublic {
  const buffer = Buffer.from(bytes);
  const r = new TpmReader(buffer, 'TPMT_PUBLIC');
  const type = r.u16();
  const nameAlg = r.u16();
  if (!TPM_HASHES.has(nameAlg)) throw new TpmFormatError(`nameAlg 0x${nameAlg.toString(16)} is not a supported hash`, 'TPMT_PUBLIC');
  const attributes = r.u32();
  const authPolicy = r.sized(MAX_POLICY_BYTES, 'authPolicy');
  const symmetric = readSymmetric(r);
  const scheme = r.u16();
  // Every asymmetric scheme but NULL and RSAES carries a hash (TPMU_ASYM_SCHEME, Part 2 §11.2.3.5): RSAES's details
  // are TPMS_EMPTY (PKCS#1 v1.5 encryption has no hash), so nothing follows its algorithm id. ECDAA adds a count.
  const schemeHash = scheme === TpmAlg.null || scheme === TpmAlg.rsaes ? undefined : r.u16();
  if (scheme === TpmAlg.ecdaa) r.u16();
  let result: TpmPublic;
  if (type === TpmAlg.rsa) {
    const keyBits = r.u16();
    const exponent = r.u32();
    const modulus = r.sized(MAX_RSA_BYTES, 'unique.rsa');
    if (modulus.length * 8 !== keyBits)
      throw new TpmFormatError(`modulus is ${modulus.length * 8} bits, keyBits says ${keyBits}`, 'TPMT_PUBLIC');
    result = { type: 'rsa', bytes: buffer, nameAlg, attributes, authPolicy, symmetric, scheme, schemeHash, keyBits, exponent, modulus };
  } else if (type === TpmAlg.ecc) {
    const curve = r.u16();
    const kdf = r.u16();
    if (kdf !== TpmAlg.null) r.u16();
    const x = r.sized(MAX_ECC_BYTES, 'unique.ecc.x');
    const y = r.sized(MAX_ECC_BYTES, 'unique.ecc.y');
    result = { type: 'ecc', bytes: buffer, nameAlg, attributes, authPolicy, symmetric, scheme, schemeHash, curve, x, y };
  } else {
    throw new TpmFormatError(`type 0x${type.toString(16)} is neither RSA nor ECC`, 'TPMT_PUBLIC');
  }
  r.end();
  return result;
}

function readSymmetric(r: TpmReader): TpmSymmetric | undefined {
  const algorithm = r.u16();
  if (algorithm === TpmAlg.null) return undefined;
  return { algorithm, keyBits: r.u16(), mode: r.u16() };
}

/** The object's Name (Part 1 §16): nameAlg, then the nameAlg digest of its TPMT_PUBLIC. */
export function objectName(key: TpmPublic): Buffer {
  const hash = TPM_HASHES.get(key.nameAlg);
  if (hash === undefined) throw new TpmFormatError('unsupported nameAlg', 'TPMT_PUBLIC');
  const alg = Buffer.alloc(2);
  alg.writeUInt16BE(key.nameAlg);
  return Buffer.concat([alg, createHash(hash.name).update(key.bytes).digest()]);
}

/** The key as node:crypto holds it. */
export function publicKeyOf(key: TpmPublic): KeyObject {
  if (key.type === 'rsa') {
    // An exponent of zero means the default, 2^16 + 1 (Part 2 §12.2.3.5).
    const exponent = key.exponent === 0 ? 0x10001 : key.exponent;
    const e = Buffer.alloc(4);
    e.writeUInt32BE(exponent);
    const firstByte = e.findIndex((b) => b !== 0);
    return createPublicKey({
      key: { kty: 'RSA', n: key.modulus.toString('base64url'), e: e.subarray(firstByte).toString('base64url') },
      format: 'jwk',
    });
  }
  const curve = CURVES.get(key.curve);
  if (curve === undefined) throw new TpmFormatError(`curve 0x${key.curve.toString(16)} is not supported`, 'TPMT_PUBLIC');
  if (key.x.length !== curve.size || key.y.length !== curve.size)
    throw new TpmFormatError('point size does not match the curve', 'TPMT_PUBLIC');
  return createPublicKey({
    key: { kty: 'EC', crv: curve.jwk, x: key.x.toString('base64url'), y: key.y.toString('base64url') },
    format: 'jwk',
  });
}

/**
 * TPMA_OBJECT bits no TPM sets (Part 2 §8.3: 0, 3, 12–15, 20–31; 8 and 9 are firmwareLimited and svnLimited in
 * later revisions): a key with any of them was not made by a TPM.
 */
const TPMA_OBJECT_RESERVED = 0xfff0f009;

/** What an attestation key must be: made in this TPM, never leaving it, restricted to signing TPM-made structures. */
export const AK_REQUIRED_ATTRIBUTES = {
  fixedTPM: TpmaObject.fixedTPM,
  fixedParent: TpmaObject.fixedParent,
  sensitiveDataOrigin: TpmaObject.sensitiveDataOrigin,
  restricted: TpmaObject.restricted,
  sign: TpmaObject.sign,
} as const;

/**
 * Why a key is no attestation key (empty when it is): each required attribute missing, `decrypt` set (a restricted
 * decryption key is a storage parent, not a signer), a signing scheme other than RSASSA, RSAPSS or ECDSA, or SHA-1
 * as its name or signing hash.
 */
export function attestationKeyFaults(key: TpmPublic): string[] {
  const faults: string[] = [];
  for (const [name, bit] of Object.entries(AK_REQUIRED_ATTRIBUTES)) if ((key.attributes & bit) === 0) faults.push(`${name} not set`);
  if ((key.attributes & TpmaObject.decrypt) !== 0) faults.push('decrypt set');
  if ((key.attributes & TPMA_OBJECT_RESERVED) !== 0) faults.push('reserved attribute bits set');
  const schemes: readonly number[] = key.type === 'rsa' ? [TpmAlg.rsassa, TpmAlg.rsapss] : [TpmAlg.ecdsa];
  if (!schemes.includes(key.scheme)) faults.push(`scheme 0x${key.scheme.toString(16)} is not a signing scheme this verifier accepts`);
  if (key.schemeHash !== undefined && !TPM_HASHES.has(key.schemeHash)) faults.push('scheme hash unsupported');
  // SHA-1 is broken for collisions: neither the Name the credential binds nor the quote's signature may rest on it.
  if (key.nameAlg === TpmAlg.sha1) faults.push('nameAlg is SHA-1');
  if (key.schemeHash === TpmAlg.sha1) faults.push('scheme hash is SHA-1');
  return faults;
}

/** EK nameAlgs MakeCredential accepts: SHA-1 is broken, and its 20-byte digest cannot carry a 32-byte nonce. */
const EK_NAME_ALGS: readonly number[] = [TpmAlg.sha256, TpmAlg.sha384, TpmAlg.sha512];

/**
 * Why a key cannot be the EK a credential is made for (empty when it can): what MakeCredential needs — a nameAlg of
 * SHA-256/384/512, an AES-128/256-CFB symmetric wrap, an RSA key or an ECC key on a supported curve — and what an EK
 * is: a restricted decryption key fixed to its TPM, not a signing key. Checked before a credential is made, so a
 * crafted public area is refused with a reason instead of failing the challenge.
 */
export function endorsementKeyFaults(key: TpmPublic): string[] {
  const faults: string[] = [];
  if (!EK_NAME_ALGS.includes(key.nameAlg)) faults.push(`nameAlg 0x${key.nameAlg.toString(16)} is not SHA-256, SHA-384 or SHA-512`);
  const sym = key.symmetric;
  if (sym === undefined || sym.algorithm !== TpmAlg.aes || sym.mode !== TpmAlg.cfb || (sym.keyBits !== 128 && sym.keyBits !== 256))
    faults.push('symmetric is not AES-128-CFB or AES-256-CFB');
  if (key.type === 'ecc' && !CURVES.has(key.curve)) faults.push(`curve 0x${key.curve.toString(16)} is not supported`);
  // OAEP must fit the seed: and no TPM vendor certifies an RSA EK under 2048 bits (TCG EK Credential Profile §2.2.1).
  if (key.type === 'rsa' && key.keyBits < 2048) faults.push(`RSA key of ${key.keyBits} bits`);
  const required = TpmaObject.fixedTPM | TpmaObject.fixedParent | TpmaObject.restricted | TpmaObject.decrypt;
  if ((key.attributes & required) !== required || (key.attributes & TpmaObject.sign) !== 0)
    faults.push('not a restricted decryption key fixed to its TPM');
  return faults;
}
