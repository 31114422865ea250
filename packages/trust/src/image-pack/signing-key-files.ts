import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { spkiOf } from '../device-id.js';
import { ImageSigner, keyIdOf } from '../signed-image.js';
import { writeNewFile } from '../stored-file.js';

/** A key file that cannot be made or used; `path` is the file, so the caller can point at it. */
export class SigningKeyError extends Error {
  override readonly name = 'SigningKeyError';
  constructor(
    message: string,
    readonly path: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A key's name becomes a file name: no separators, no dot files. */
const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const KEY_NAME_RULE = '1-64 letters, digits, ".", "_" or "-", starting with a letter or digit (e.g. platform)';

export interface SigningKeyFiles {
  /** `<name>.key`: PKCS#8 PEM, mode 0600. */
  readonly privateKeyFile: string;
  /** `<name>.pub`: SubjectPublicKeyInfo PEM, for whoever verifies. */
  readonly publicKeyFile: string;
  /** SHA-256 (hex) of the SPKI: what a device's fuses hold for the key it trusts. */
  readonly keyId: string;
}

export function signingKeyFilesOf(dir: string, name: string): Omit<SigningKeyFiles, 'keyId'> {
  if (!KEY_NAME.test(name)) throw new SigningKeyError(`${JSON.stringify(name)} is not a key name: ${KEY_NAME_RULE}`, join(dir, name));
  return { privateKeyFile: join(dir, `${name}.key`), publicKeyFile: join(dir, `${name}.pub`) };
}

/**
 * Makes a P-256 image signing key as `<dir>/<name>.key` (0600) and `.pub`.
 * An existing file is never overwritten (a lost signing key strands every
 * device fused to it), so a second call with the same name is refused.
 */
export async function createSigningKeyFiles(dir: string, name: string): Promise<SigningKeyFiles> {
  const files = signingKeyFilesOf(dir, name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await writeNewFile(files.privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), 0o600, keyFileExists);
  try {
    await writeNewFile(files.publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }), 0o644, keyFileExists);
  } catch (error) {
    await unlink(files.privateKeyFile);
    throw error;
  }
  return { ...files, keyId: keyIdOf(spkiOf(publicKey)) };
}

/** A key file is never overwritten: the operator chooses another name, or moves the old one away. */
function keyFileExists(path: string, cause: unknown): Error {
  return new SigningKeyError(`${path} exists; a key file is never overwritten (choose another name, or move it away)`, path, { cause });
}

/**
 * Reads an image signing key (PEM, P-256): the operator's, or the device
 * maker's that the fleet pod and the embedded platform sign firmware with.
 */
export async function loadImageSigner(path: string): Promise<ImageSigner> {
  const key = await readKey(path, (pem) => createPrivateKey(pem), 'a PEM private key');
  return ImageSigner.fromPrivateKey(key);
}

/** The DER SPKI of a public key file (`.pub`); a private key file is accepted too (its public half is used). */
export async function readPublicKeyFile(path: string): Promise<Buffer> {
  return spkiOf(await readKey(path, (pem) => createPublicKey(pem), 'a PEM public key'));
}

async function readKey(path: string, parse: (pem: string) => KeyObject, what: string): Promise<KeyObject> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SigningKeyError(`cannot read the key file ${path} (${code ?? String(error)})`, path, { cause: error });
  }
  let key: KeyObject;
  try {
    key = parse(pem);
  } catch (error) {
    throw new SigningKeyError(`${path} is not ${what}`, path, { cause: error });
  }
  // Devices verify ECDSA P-256 (the keys `rampart keys create` makes); anything else would be refused on every device.
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new SigningKeyError(`${path} is not a P-256 (prime256v1) EC key; make one with: rampart keys create <name>`, path);
  }
  return key;
}

/**
 * The key `<dir>/<name>.key`, made on first use: an installation's own
 * firmware signing key, the same at every start. When two processes start
 * at once, the one that loses the exclusive create reads the winner's key.
 */
export async function loadOrCreateImageSigner(dir: string, name: string): Promise<{ signer: ImageSigner; files: SigningKeyFiles }> {
  const paths = signingKeyFilesOf(dir, name);
  try {
    await createSigningKeyFiles(dir, name);
  } catch (error) {
    if (!(error instanceof SigningKeyError) || error.path !== paths.privateKeyFile) throw error;
  }
  const signer = await loadImageSigner(paths.privateKeyFile);
  return { signer, files: { ...paths, keyId: signer.keyId } };
}
