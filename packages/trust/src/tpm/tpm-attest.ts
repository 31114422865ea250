import { constants, verify, type KeyObject } from 'node:crypto';
import { MAX_DIGEST_BYTES, TPM_GENERATED_VALUE, TPM_HASHES, TpmAlg, TpmSt } from './tpm-constants.js';
import { TpmFormatError, TpmReader, leftPad } from './tpm-reader.js';
import { publicKeyOf, type TpmPublic } from './tpm-public.js';

export interface PcrSelection {
  readonly hashAlg: number;
  /** PCR indices selected, ascending. */
  readonly pcrs: readonly number[];
}

/** TPMS_ATTEST with TPMS_QUOTE_INFO (Part 2 §10.12.8, §10.12.1). */
export interface TpmQuote {
  readonly qualifiedSigner: Buffer;
  readonly extraData: Buffer;
  readonly clock: bigint;
  readonly resetCount: number;
  readonly restartCount: number;
  readonly safe: boolean;
  readonly firmwareVersion: bigint;
  readonly pcrSelections: readonly PcrSelection[];
  readonly pcrDigest: Buffer;
}

const MAX_NAME_BYTES = 2 + MAX_DIGEST_BYTES;
const MAX_PCR_BANKS = 16;
const MAX_SELECT_BYTES = 4; // PCR_SELECT_MAX for 24-32 PCRs

/**
 * Parses the quote the TPM signed. Refused unless it starts with TPM_GENERATED_VALUE (only the TPM makes such
 * structures: a restricted key signs no outside data that begins with it) and is a quote (TPM_ST_ATTEST_QUOTE),
 * with nothing after it.
 */
export function parseQuote(bytes: Uint8Array): TpmQuote {
  const r = new TpmReader(Buffer.from(bytes), 'TPMS_ATTEST');
  const magic = r.u32();
  if (magic !== TPM_GENERATED_VALUE) throw new TpmFormatError(`magic 0x${magic.toString(16)} is not TPM_GENERATED_VALUE`, 'TPMS_ATTEST');
  const type = r.u16();
  if (type !== TpmSt.attestQuote) throw new TpmFormatError(`type 0x${type.toString(16)} is not TPM_ST_ATTEST_QUOTE`, 'TPMS_ATTEST');
  const qualifiedSigner = r.sized(MAX_NAME_BYTES, 'qualifiedSigner');
  const extraData = r.sized(MAX_DIGEST_BYTES, 'extraData');
  const clock = r.u64();
  const resetCount = r.u32();
  const restartCount = r.u32();
  const safeByte = r.u8();
  if (safeByte > 1) throw new TpmFormatError('clockInfo.safe is not a TPMI_YES_NO', 'TPMS_ATTEST');
  const firmwareVersion = r.u64();
  const count = r.u32();
  if (count > MAX_PCR_BANKS) throw new TpmFormatError(`${count} PCR banks`, 'TPML_PCR_SELECTION');
  const pcrSelections: PcrSelection[] = [];
  for (let i = 0; i < count; i += 1) {
    const hashAlg = r.u16();
    const sizeofSelect = r.u8();
    if (sizeofSelect > MAX_SELECT_BYTES) throw new TpmFormatError(`sizeofSelect ${sizeofSelect}`, 'TPMS_PCR_SELECTION');
    const bitmap = r.take(sizeofSelect);
    const pcrs: number[] = [];
    for (let pcr = 0; pcr < sizeofSelect * 8; pcr += 1) if ((bitmap[pcr >> 3]! & (1 << (pcr & 7))) !== 0) pcrs.push(pcr);
    pcrSelections.push({ hashAlg, pcrs });
  }
  const pcrDigest = r.sized(MAX_DIGEST_BYTES, 'pcrDigest');
  r.end();
  return { qualifiedSigner, extraData, clock, resetCount, restartCount, safe: safeByte === 1, firmwareVersion, pcrSelections, pcrDigest };
}

/**
 * Verifies a TPMT_SIGNATURE (Part 2 §11.3.4) over `message` with the key, which must be the scheme the key was
 * made for (a restricted key signs only with its own scheme). ECDSA's r and s are TPM2B_ECC_PARAMETERs.
 */
export function verifyTpmSignature(key: TpmPublic, message: Uint8Array, signature: Uint8Array): boolean {
  let r: TpmReader;
  let sigAlg: number;
  let hashAlg: number;
  try {
    r = new TpmReader(Buffer.from(signature), 'TPMT_SIGNATURE');
    sigAlg = r.u16();
    hashAlg = r.u16();
  } catch {
    return false;
  }
  const hash = TPM_HASHES.get(hashAlg);
  if (hash === undefined || sigAlg !== key.scheme || hashAlg !== key.schemeHash) return false;
  try {
    const publicKey: KeyObject = publicKeyOf(key);
    if (sigAlg === TpmAlg.ecdsa && key.type === 'ecc') {
      const size = key.x.length;
      const rValue = r.sized(size, 'signatureR');
      const sValue = r.sized(size, 'signatureS');
      r.end();
      const p1363 = Buffer.concat([leftPad(rValue, size, 'TPMT_SIGNATURE'), leftPad(sValue, size, 'TPMT_SIGNATURE')]);
      return verify(hash.name, message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, p1363);
    }
    if ((sigAlg === TpmAlg.rsassa || sigAlg === TpmAlg.rsapss) && key.type === 'rsa') {
      const value = r.sized(key.modulus.length, 'signature');
      r.end();
      if (sigAlg === TpmAlg.rsassa) return verify(hash.name, message, { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, value);
      return verify(
        hash.name,
        message,
        { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
        value,
      );
    }
    return false;
  } catch {
    return false;
  }
}
