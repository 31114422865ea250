/** TPM 2.0 Part 2 constants this verifier reads (TPM_ALG_ID §6.3, TPM_ECC_CURVE §6.4, TPMA_OBJECT §8.3, TPM_ST §6.9). */
export const TpmAlg = {
  rsa: 0x0001,
  sha1: 0x0004,
  hmac: 0x0005,
  aes: 0x0006,
  keyedHash: 0x0008,
  sha256: 0x000b,
  sha384: 0x000c,
  sha512: 0x000d,
  null: 0x0010,
  rsassa: 0x0014,
  rsaes: 0x0015,
  rsapss: 0x0016,
  oaep: 0x0017,
  ecdsa: 0x0018,
  ecdh: 0x0019,
  ecdaa: 0x001a,
  ecschnorr: 0x001c,
  ecc: 0x0023,
  symcipher: 0x0025,
  cfb: 0x0043,
} as const;

export const TpmEccCurve = { nistP256: 0x0003, nistP384: 0x0004, nistP521: 0x0005 } as const;

/** TPMA_OBJECT bits. */
export const TpmaObject = {
  fixedTPM: 1 << 1,
  stClear: 1 << 2,
  fixedParent: 1 << 4,
  sensitiveDataOrigin: 1 << 5,
  userWithAuth: 1 << 6,
  adminWithPolicy: 1 << 7,
  noDA: 1 << 10,
  encryptedDuplication: 1 << 11,
  restricted: 1 << 16,
  decrypt: 1 << 17,
  sign: 1 << 18,
} as const;

/** TPM_GENERATED_VALUE: every structure the TPM signs as its own starts with it, and a restricted key signs no digest of data that does (Part 2 §6.2). */
export const TPM_GENERATED_VALUE = 0xff544347;

export const TpmSt = { attestQuote: 0x8018 } as const;

/** Hash algorithms by TPM_ALG_ID: node:crypto name and digest size. */
export const TPM_HASHES: ReadonlyMap<number, { readonly name: string; readonly size: number }> = new Map([
  [TpmAlg.sha1, { name: 'sha1', size: 20 }],
  [TpmAlg.sha256, { name: 'sha256', size: 32 }],
  [TpmAlg.sha384, { name: 'sha384', size: 48 }],
  [TpmAlg.sha512, { name: 'sha512', size: 64 }],
]);

/** The largest digest any algorithm above produces (sizes TPM2B_DIGEST reads). */
export const MAX_DIGEST_BYTES = 64;
