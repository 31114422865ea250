import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { canonicalize } from '@tufjs/canonical-json';
import { Key, Signature } from '@tufjs/models';
import type { TufSigner } from './tuf-signer.js';

/** Ed25519 SubjectPublicKeyInfo is this 12-byte prefix and the 32-byte key. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * A TUF signing key (Ed25519): its public half as TUF describes it, and a
 * signer. The private key stays in this object; the only way out is
 * `exportPrivatePem` for sealing it at rest.
 */
export class TufSigningKey implements TufSigner {
  readonly #privateKey: KeyObject;
  readonly key: Key;

  private constructor(privateKey: KeyObject) {
    this.#privateKey = privateKey;
    const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
    this.key = tufPublicKey(spki.subarray(ED25519_SPKI_PREFIX.length).toString('hex'));
  }

  static generate(): TufSigningKey {
    return new TufSigningKey(generateKeyPairSync('ed25519').privateKey);
  }

  static fromPrivatePem(pem: string): TufSigningKey {
    return new TufSigningKey(createPrivateKey(pem));
  }

  /**
   * An Ed25519 key from an encrypted PKCS#8 PEM (an offline root key's file).
   * A wrong passphrase and a key of another type are refused here, never
   * discovered later as signatures no device accepts.
   */
  static fromEncryptedPem(pem: string, passphrase: string): TufSigningKey {
    const key = createPrivateKey({ key: pem, format: 'pem', passphrase });
    if (key.asymmetricKeyType !== 'ed25519') throw new TypeError(`an ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519`);
    return new TufSigningKey(key);
  }

  get keyId(): string {
    return this.key.keyID;
  }

  get publicHex(): string {
    return this.key.keyVal['public']!;
  }

  /** For `Metadata.sign`. */
  readonly signer = (data: Buffer): Signature =>
    new Signature({ keyID: this.keyId, sig: sign(null, data, this.#privateKey).toString('hex') });

  sign(data: Buffer): Promise<Signature> {
    return Promise.resolve(this.signer(data));
  }

  exportPrivatePem(): string {
    return this.#privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  /** Encrypted PKCS#8 (PBES2: PBKDF2 and AES-256-CBC), for a key kept in a file on an offline machine. */
  exportEncryptedPrivatePem(passphrase: string): string {
    return this.#privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }).toString();
  }

  /** The public half as SubjectPublicKeyInfo PEM: what a key holder hands over to be listed in a root. */
  exportPublicPem(): string {
    return createPublicKey(this.#privateKey).export({ type: 'spki', format: 'pem' }).toString();
  }
}

/** A public Ed25519 key as TUF lists it, with its key id: SHA-256 over the key's canonical JSON. */
export function tufPublicKey(publicHex: string): Key {
  const keyJson = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: publicHex } };
  const keyID = createHash('sha256').update(canonicalize(keyJson)).digest('hex');
  return new Key({ keyID, keyType: 'ed25519', scheme: 'ed25519', keyVal: { public: publicHex } });
}
