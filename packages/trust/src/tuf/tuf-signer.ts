import { createHash, type KeyObject } from 'node:crypto';
import { canonicalize } from '@tufjs/canonical-json';
import { Key, Signature } from '@tufjs/models';
import type { KeyAlgorithm, KeyHandle, KeyProvider } from '../keys/key-provider.js';

/**
 * Whatever signs TUF metadata: a key in this process (`TufSigningKey`, the
 * offline ceremony's) or a key in a provider (`ProviderTufSigner`, the
 * platform's online roles). `sign` gets the canonical JSON of `signed`.
 */
export interface TufSigner {
  /** The public key as a root lists it, with its key id. */
  readonly key: Key;
  sign(data: Buffer): Promise<Signature>;
}

/** TUF's names for the two algorithms a provider holds: Ed25519, and ECDSA P-256 with SHA-256 (keyval.public a PEM SPKI). */
const TUF_KEY_TYPES: Readonly<Record<KeyAlgorithm, { readonly keytype: string; readonly scheme: string }>> = {
  ed25519: { keytype: 'ed25519', scheme: 'ed25519' },
  'ecdsa-p256': { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256' },
};

/** Ed25519 SubjectPublicKeyInfo is this 12-byte prefix and the 32-byte key. */
const ED25519_SPKI_PREFIX_BYTES = 12;

/** A TUF key object and its id (SHA-256 over the object's canonical JSON), from a key's public half. */
export function tufKeyOf(publicKey: KeyObject): Key {
  const algorithm = algorithmOfPublicKey(publicKey);
  const { keytype, scheme } = TUF_KEY_TYPES[algorithm];
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // Ed25519 keys are listed as hex (as the ceremony's keys are); ECDSA as PEM, as python-tuf and tuf-js read it.
  const value =
    algorithm === 'ed25519'
      ? spki.subarray(ED25519_SPKI_PREFIX_BYTES).toString('hex')
      : publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const json = { keytype, scheme, keyval: { public: value } };
  const keyID = createHash('sha256').update(canonicalize(json)).digest('hex');
  return new Key({ keyID, keyType: keytype, scheme, keyVal: { public: value } });
}

/** A TUF key object as stored (public only), with its id checked to be the hash of the object. */
export function tufKeyFromJson(
  keyId: string,
  json: { readonly keytype: string; readonly scheme: string; readonly keyval: { readonly public: string } },
): Key {
  const object = { keytype: json.keytype, scheme: json.scheme, keyval: { public: json.keyval.public } };
  if (createHash('sha256').update(canonicalize(object)).digest('hex') !== keyId)
    throw new TypeError(`key ${keyId} is not the hash of its key object`);
  return Key.fromJSON(keyId, object);
}

/** The provider algorithm of a TUF key object; undefined for a type the platform does not sign with. */
export function algorithmOfTufKey(key: { readonly keytype: string; readonly scheme: string }): KeyAlgorithm | undefined {
  const match = Object.entries(TUF_KEY_TYPES).find(([, t]) => t.keytype === key.keytype && t.scheme === key.scheme);
  return match?.[0] as KeyAlgorithm | undefined;
}

function algorithmOfPublicKey(key: KeyObject): KeyAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256';
  throw new TypeError(`a ${key.asymmetricKeyType ?? 'unknown'} key is not one TUF metadata is signed with here (Ed25519 or P-256)`);
}

/**
 * A TUF role's key held by a provider: each signature is the provider's
 * (a `C_Sign` in the token for pkcs11), its errors (`TokenUnavailableError`,
 * `KeyNotFoundError`…) passed on as they are, never replaced by another key.
 * The provider's DER ECDSA signature is what TUF's `ecdsa-sha2-nistp256`
 * scheme verifies; its raw Ed25519 signature is TUF's `ed25519`.
 */
export class ProviderTufSigner implements TufSigner {
  constructor(
    private readonly provider: KeyProvider,
    readonly handle: KeyHandle,
    readonly key: Key,
  ) {}

  /** The signer for the provider's key under `label`, its TUF key made from the provider's public half. */
  static async open(provider: KeyProvider, handle: KeyHandle): Promise<ProviderTufSigner> {
    return new ProviderTufSigner(provider, handle, tufKeyOf(await provider.publicKey(handle.label)));
  }

  async sign(data: Buffer): Promise<Signature> {
    const signature = await this.provider.sign(this.handle, data);
    return new Signature({ keyID: this.key.keyID, sig: signature.toString('hex') });
  }
}
