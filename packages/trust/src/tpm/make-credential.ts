import { constants, createCipheriv, createHmac, publicEncrypt, randomBytes } from 'node:crypto';
import { TPM_HASHES, TpmAlg } from './tpm-constants.js';
import { TpmFormatError } from './tpm-reader.js';
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

function sized(bytes: Buffer): Buffer {
  const size = Buffer.alloc(2);
  size.writeUInt16BE(bytes.length);
  return Buffer.concat([size, bytes]);
}

/**
 * TPM2_MakeCredential done outside the TPM (Part 1 §24, Part 3 §12.6): only the TPM holding `ek`, with the object
 * named `objectName` loaded, can recover `credential` through ActivateCredential. RSA EKs (template L-1: OAEP with
 * the EK's nameAlg, label "IDENTITY", AES-CFB inner wrap); ECC EKs' ECDH seed is not supported here.
 */
export function makeCredential(ek: TpmPublic, objectName: Buffer, credential: Buffer, seed?: Buffer): MadeCredential {
  if (ek.type !== 'rsa') throw new TpmFormatError('only RSA endorsement keys are supported', 'MakeCredential');
  const hash = TPM_HASHES.get(ek.nameAlg);
  const sym = ek.symmetric;
  if (hash === undefined || sym === undefined || sym.algorithm !== TpmAlg.aes || sym.mode !== TpmAlg.cfb)
    throw new TpmFormatError('the EK is not a storage key with AES-CFB', 'MakeCredential');
  if (sym.keyBits !== 128 && sym.keyBits !== 256) throw new TpmFormatError('unsupported AES key size', 'MakeCredential');
  if (credential.length > hash.size) throw new TpmFormatError('credential longer than a digest', 'MakeCredential');
  const secretSeed = seed ?? randomBytes(hash.size);
  const encryptedSeed = publicEncrypt(
    {
      key: publicKeyOf(ek),
      padding: constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: hash.name,
      oaepLabel: Buffer.from('IDENTITY\0', 'latin1'),
    },
    secretSeed,
  );
  const symKey = kdfa(ek.nameAlg, secretSeed, 'STORAGE', objectName, Buffer.alloc(0), sym.keyBits);
  const cipher = createCipheriv(`aes-${sym.keyBits}-cfb`, symKey, Buffer.alloc(16));
  const encIdentity = Buffer.concat([cipher.update(sized(credential)), cipher.final()]);
  const hmacKey = kdfa(ek.nameAlg, secretSeed, 'INTEGRITY', Buffer.alloc(0), Buffer.alloc(0), hash.size * 8);
  const integrity = createHmac(hash.name, hmacKey).update(encIdentity).update(objectName).digest();
  return { idObject: sized(Buffer.concat([sized(integrity), encIdentity])), encryptedSecret: sized(encryptedSeed) };
}
