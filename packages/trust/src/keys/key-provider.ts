import type { KeyObject } from 'node:crypto';
import type { KeyProviderError } from './key-errors.js';

/**
 * The signature algorithms a provider holds keys for: ECDSA P-256 with SHA-256
 * (certificates, CRLs, the platform's issuing key) and Ed25519 (the online TUF
 * roles, where the token supports it).
 */
export const KEY_ALGORITHMS = ['ecdsa-p256', 'ed25519'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

/** A key a provider found or made: what to pass to `sign`. It holds no key material. */
export interface KeyHandle {
  readonly label: string;
  readonly algorithm: KeyAlgorithm;
}

/** Whether a provider can sign now; when not, `error` says which key (if one) and why. */
export type Readiness = { readonly ready: true } | { readonly ready: false; readonly reason: string; readonly error: KeyProviderError };

/**
 * Where signing keys live and where every signature is made. `software` keeps
 * them sealed at rest and signs in this process (development); `pkcs11` keeps
 * them in a token (an HSM) that signs and never lets them out. A provider that
 * cannot sign says so by name and never falls back to another.
 */
export interface KeyProvider {
  readonly kind: 'software' | 'pkcs11';

  /** Whether keys of `algorithm` can be made and used here (a token may lack Ed25519). */
  supports(algorithm: KeyAlgorithm): Promise<boolean>;

  /** Makes a new key pair under `label` (see `keyLabel`); refuses a label already in use. */
  generate(label: string, algorithm: KeyAlgorithm): Promise<KeyHandle>;

  /** The key under `label`, or undefined when there is none. */
  find(label: string): Promise<KeyHandle | undefined>;

  /**
   * Signs `data` (the whole message: ECDSA hashes it with SHA-256 first) and
   * returns the signature as X.509 and node:crypto's `verify` take it: DER
   * ECDSA-Sig-Value for ECDSA, the 64 raw bytes for Ed25519.
   */
  sign(key: KeyHandle, data: Uint8Array): Promise<Buffer>;

  /** The public half of the key under `label`. */
  publicKey(label: string): Promise<KeyObject>;

  /**
   * Destroys the key pair under `label` (both halves): a key made for a
   * certificate that was then never issued or stored, so keys do not pile
   * up in the token. False when there was no such key.
   */
  destroy(label: string): Promise<boolean>;

  /** Whether this provider can sign now, and with each of `labels`. Never throws. */
  ready(labels?: readonly string[]): Promise<Readiness>;

  close(): Promise<void>;
}
