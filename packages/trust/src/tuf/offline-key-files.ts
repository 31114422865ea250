import { createPublicKey } from 'node:crypto';
import { readFile, unlink } from 'node:fs/promises';
import type { Key } from '@tufjs/models';
import { writeNewFile } from '../stored-file.js';
import { TufSigningKey, tufPublicKey } from './tuf-keys.js';

/** Ed25519 SubjectPublicKeyInfo is this 12-byte prefix and the 32-byte key. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * Shortest passphrase an offline key is made with. The file is the only
 * guard once it is copied off the offline machine (a backup, a USB stick),
 * and PBKDF2 slows each guess only so much.
 */
export const MIN_PASSPHRASE_LENGTH = 12;

/** An offline key file, public key file or passphrase file that cannot be made or used; `path` names it. */
export class OfflineKeyError extends Error {
  override readonly name = 'OfflineKeyError';
  constructor(
    message: string,
    readonly path: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface OfflineKeyFiles {
  /** The private key: encrypted PKCS#8 PEM, mode 0600. */
  readonly privateKeyFile: string;
  /** `<privateKeyFile>.pub`: SubjectPublicKeyInfo PEM, what `tuf-root make --keys` lists. */
  readonly publicKeyFile: string;
  /** The TUF key id: SHA-256 over the public key's canonical JSON. */
  readonly keyId: string;
}

export function publicKeyFileOf(privateKeyFile: string): string {
  return `${privateKeyFile}.pub`;
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new OfflineKeyError(`cannot read the ${what} ${path} (${code ?? String(error)})`, path, { cause: error });
  }
}

/** A key file is never overwritten: the holder chooses another name, or moves the old one away. */
function keyFileExists(path: string, cause: unknown): Error {
  return new OfflineKeyError(`${path} exists; a key file is never overwritten (choose another name, or move it away)`, path, { cause });
}

/**
 * The passphrase in `path`: its first line, without the line break an
 * editor adds (a passphrase that ends in a newline is one nobody can type).
 */
export async function readPassphraseFile(path: string): Promise<string> {
  const passphrase = (await readText(path, 'passphrase file')).split(/\r?\n/, 1)[0] ?? '';
  if (passphrase.length === 0) throw new OfflineKeyError(`the passphrase file ${path} is empty`, path);
  return passphrase;
}

/**
 * Makes an offline TUF root key (Ed25519) as `privateKeyFile` (encrypted
 * under `passphrase`, 0600) and its `.pub`. An existing file is never
 * overwritten: a lost root key is one fewer toward the threshold.
 */
export async function createOfflineKeyFiles(privateKeyFile: string, passphrase: string): Promise<OfflineKeyFiles> {
  if (passphrase.length < MIN_PASSPHRASE_LENGTH) {
    throw new OfflineKeyError(`a passphrase of at least ${MIN_PASSPHRASE_LENGTH} characters is needed`, privateKeyFile);
  }
  const key = TufSigningKey.generate();
  const publicKeyFile = publicKeyFileOf(privateKeyFile);
  await writeNewFile(privateKeyFile, key.exportEncryptedPrivatePem(passphrase), 0o600, keyFileExists);
  try {
    await writeNewFile(publicKeyFile, key.exportPublicPem(), 0o644, keyFileExists);
  } catch (error) {
    await unlink(privateKeyFile);
    throw error;
  }
  return { privateKeyFile, publicKeyFile, keyId: key.keyId };
}

/** The offline key in `path`, decrypted with `passphrase`: a wrong passphrase is named as such. */
export async function loadOfflineKey(path: string, passphrase: string): Promise<TufSigningKey> {
  const pem = await readText(path, 'key file');
  if (!pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) {
    throw new OfflineKeyError(`${path} is not an encrypted PKCS#8 key (an offline key is never kept in the clear)`, path);
  }
  try {
    return TufSigningKey.fromEncryptedPem(pem, passphrase);
  } catch (error) {
    throw new OfflineKeyError(`${path} cannot be opened: a wrong passphrase, or not an Ed25519 key`, path, { cause: error });
  }
}

/** The TUF key in a `.pub` file (SubjectPublicKeyInfo PEM, Ed25519). */
export async function readOfflinePublicKey(path: string): Promise<Key> {
  const pem = await readText(path, 'public key file');
  let spki: Buffer;
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new TypeError(`an ${key.asymmetricKeyType ?? 'unknown'} key`);
    spki = key.export({ type: 'spki', format: 'der' });
  } catch (error) {
    throw new OfflineKeyError(`${path} is not an Ed25519 public key (PEM, as tuf-key create writes it)`, path, { cause: error });
  }
  return tufPublicKey(spki.subarray(ED25519_SPKI_PREFIX.length).toString('hex'));
}
