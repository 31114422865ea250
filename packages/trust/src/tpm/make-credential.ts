import {
  constants,
  createCipheriv,
  createHash,
  createHmac,
  diffieHellman,
  generateKeyPairSync,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import { TPM_HASHES, TpmAlg, TpmEccCurve } from './tpm-constants.js';
import { TpmFormatError, leftPad } from './tpm-reader.js';
import { publicKeyOf, type TpmPublic } from './tpm-public.js';

/** What TPM2_ActivateCredential takes (Part 3 §12.5): the wrapped credential and the seed encrypted to the EK. */
export interface MadeCredential {
  /** TPM2B_ID_OBJECT: integrity HMAC and encrypted credential. */
  readonly idObject: Buffer;
  /** TPM2B_ENCRYPTED_SECRET: the seed, RSA-OAEP encrypted to the EK. */
  readonly encryptedSecret: Buffer;
}

/** KDFa (Part 1 §11.4.10.2): HMAC-based counter-mode KDF, SP 800-108, with the label's terminating zero byte. */
export function kdfa(hashAlg: number, key: Buffer, label: string, contextU: Buffer, contextV: Buffer, bits: number): Buffer {
  const hash = TPM_HASHES.get(hashAlg);
  if (hash === undefined) throw new TpmFormatError('unsupported KDF hash', 'KDFa');
  const bytes = Math.ceil(bits / 8);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bits);
  const parts: Buffer[] = [];
  for (let counter = 1, produced = 0; produced < bytes; counter += 1) {
    const i = Buffer.alloc(4);
    i.writeUInt32BE(counter);
    const block = createHmac(hash.name, key)
      .update(Buffer.concat([i, Buffer.from(label, 'latin1'), Buffer.from([0]), contextU, contextV, length]))
      .digest();
    parts.push(block);
    produced += block.length;
  }
  return Buffer.concat(parts).subarray(0, bytes);
}

/**
 * KDFe (Part 1 §11.4.10.3): the SP 800-56A concatenation KDF — Hash(counter || Z || label || 0 || partyUInfo ||
 * partyVInfo), counter from 1 — that turns an ECDH secret into a seed.
 */
export function kdfe(hashAlg: number, z: Buffer, label: string, partyU: Buffer, partyV: Buffer, bits: number): Buffer {
  const hash = TPM_HASHES.get(hashAlg);
  if (hash === undefined) throw new TpmFormatError('unsupported KDF hash', 'KDFe');
  const bytes = Math.ceil(bits / 8);
  const parts: Buffer[] = [];
  for (let counter = 1, produced = 0; produced < bytes; counter += 1) {
    const i = Buffer.alloc(4);
    i.writeUInt32BE(counter);
    const block = createHash(hash.name)
      .update(Buffer.concat([i, z, Buffer.from(label, 'latin1'), Buffer.from([0]), partyU, partyV]))
      .digest();
    parts.push(block);
    produced += block.length;
  }
  return Buffer.concat(parts).subarray(0, bytes);
}

const NODE_CURVES: ReadonlyMap<number, string> = new Map([
  [TpmEccCurve.nistP256, 'prime256v1'],
  [TpmEccCurve.nistP384, 'secp384r1'],
  [TpmEccCurve.nistP521, 'secp521r1'],
]);

/**
 * The seed and its encryption to the EK (Part 1 §24.4 with Annex C.6 / B.10): for an RSA EK, a random seed
 * RSA-OAEP-encrypted with the label "IDENTITY"; for an ECC EK, one-pass ECDH with an ephemeral key on the EK's curve
 * and KDFe(Z, "IDENTITY", ephemeral.x, EK.x), the secret being the ephemeral point.
 */
function seedFor(ek: TpmPublic, size: number, hashName: string, fixedSeed: Buffer | undefined): { seed: Buffer; encrypted: Buffer } {
  if (ek.type === 'rsa') {
    const seed = fixedSeed ?? randomBytes(size);
    const encrypted = publicEncrypt(
      {
        key: publicKeyOf(ek),
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: hashName,
        oaepLabel: Buffer.from('IDENTITY\0', 'latin1'),
      },
      seed,
    );
    return { seed, encrypted };
  }
  const namedCurve = NODE_CURVES.get(ek.curve);
  if (namedCurve === undefined) throw new TpmFormatError('unsupported EK curve', 'MakeCredential');
  const ephemeral = generateKeyPairSync('ec', { namedCurve });
  const z = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: publicKeyOf(ek) });
  const jwk = ephemeral.publicKey.export({ format: 'jwk' });
  const x = leftPad(Buffer.from(jwk.x!, 'base64url'), ek.x.length, 'MakeCredential');
  const y = leftPad(Buffer.from(jwk.y!, 'base64url'), ek.x.length, 'MakeCredential');
  return { seed: kdfe(ek.nameAlg, z, 'IDENTITY', x, ek.x, size * 8), encrypted: Buffer.concat([sized(x), sized(y)]) };
}

function sized(bytes: Buffer): Buffer {
  const size = Buffer.alloc(2);
  size.writeUInt16BE(bytes.length);
  return Buffer.concat([size, bytes]);
}

/**
 * TPM2_MakeCredential done outside the TPM (Part 1 §24, Part 3 §12.6): only the TPM holding `ek`, with the object
 * named `objectName` loaded, can recover `credential` through ActivateCredential. RSA EKs (OAEP with the EK's
 * nameAlg, label "IDENTITY") and ECC EKs (ECDH + KDFe); the inner wrap is the EK's AES-CFB, the outer HMAC its nameAlg.
 * `seed` fixes an RSA EK's seed (for tests against vectors).
 */
export function makeCredential(ek: TpmPublic, objectName: Buffer, credential: Buffer, seed?: Buffer): MadeCredential {
  const { hash } = credentialAlgorithms(ek);
  const { seed: secretSeed, encrypted: encryptedSeed } = seedFor(ek, hash.size, hash.name, seed);
  return { idObject: wrapCredential(ek, objectName, credential, secretSeed), encryptedSecret: sized(encryptedSeed) };
}

/**
 * The TPM2B_ID_OBJECT for a seed (Part 1 §24.4–24.5): `credential` as a TPM2B, AES-CFB encrypted (zero IV) under
 * KDFa(seed, "STORAGE", Name) and behind HMAC(KDFa(seed, "INTEGRITY"), encIdentity || Name), the EK's nameAlg
 * throughout. Exported for known-answer tests, where the seed is recovered with the EK's private key.
 */
export function wrapCredential(ek: TpmPublic, objectName: Buffer, credential: Buffer, seed: Buffer): Buffer {
  const { hash, sym } = credentialAlgorithms(ek);
  if (credential.length > hash.size) throw new TpmFormatError('credential longer than a digest', 'MakeCredential');
  const symKey = kdfa(ek.nameAlg, seed, 'STORAGE', objectName, Buffer.alloc(0), sym.keyBits);
  const cipher = createCipheriv(`aes-${sym.keyBits}-cfb`, symKey, Buffer.alloc(16));
  const encIdentity = Buffer.concat([cipher.update(sized(credential)), cipher.final()]);
  const hmacKey = kdfa(ek.nameAlg, seed, 'INTEGRITY', Buffer.alloc(0), Buffer.alloc(0), hash.size * 8);
  const integrity = createHmac(hash.name, hmacKey).update(encIdentity).update(objectName).digest();
  return sized(Buffer.concat([sized(integrity), encIdentity]));
}

function credentialAlgorithms(ek: TpmPublic): { hash: { name: string; size: number }; sym: { keyBits: number } } {
  const hash = TPM_HASHES.get(ek.nameAlg);
  const sym = ek.symmetric;
  if (hash === undefined || sym === undefined || sym.algorithm !== TpmAlg.aes || sym.mode !== TpmAlg.cfb)
    throw new TpmFormatError('the EK is not a storage key with AES-CFB', 'MakeCredential');
  if (sym.keyBits !== 128 && sym.keyBits !== 256) throw new TpmFormatError('unsupported AES key size', 'MakeCredential');
  return { hash, sym };
}
