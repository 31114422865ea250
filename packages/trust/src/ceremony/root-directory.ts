import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { Pkcs11KeyProvider } from '../keys/pkcs11/pkcs11-key-provider.js';
// One passphrase file format for every offline ceremony (the TUF root's holders use the same).
import { readPassphraseFile } from '../tuf/offline-key-files.js';
import { normalizeSerial, type Revocation, type SigningCa } from './ca-certificates.js';
import { RootKeyError } from './ceremony-errors.js';
import { checkPassphrase, openEncryptedRoot, openTokenRoot, type CreatedOfflineRoot } from './offline-root.js';
import { writeNewFile } from '../stored-file.js';

/**
 * The offline root's directory on the ceremony machine's media. Public files
 * (the certificate) and the root's own records sit beside the key or the
 * note of which token holds it:
 *
 * | file              | what                                                                    |
 * | ----------------- | ----------------------------------------------------------------------- |
 * | `root.pem`        | the root certificate: what the platform and devices import              |
 * | `root.key.pem`    | the key, encrypted PKCS#8 under the passphrase (mode 0600), or…         |
 * | `root-token.json` | …the token that holds it: module, token label, key label (no PIN)       |
 * | `revoked.json`    | every certificate this root revoked, kept so each new CRL lists them    |
 * | `issued/`         | a copy of every CA certificate this root signed, named by serial        |
 */
export const ROOT_FILES = {
  certificate: 'root.pem',
  encryptedKey: 'root.key.pem',
  token: 'root-token.json',
  revoked: 'revoked.json',
  issued: 'issued',
} as const;

const tokenNoteSchema = z.object({ modulePath: z.string().min(1), tokenLabel: z.string().min(1), keyLabel: z.string().min(1) }).strict();
/** Where a token-held root key is; the PIN is never written down here, it comes from a file at each ceremony. */
export type RootTokenNote = z.infer<typeof tokenNoteSchema>;

const revokedSchema = z.array(z.object({ serial: z.string(), revokedAt: z.iso.datetime() }).strict());

/** How to open the root for a ceremony: the encrypted key's passphrase file, or the PIN file of the token holding it. */
export type RootAccess = { readonly passphraseFile: string } | { readonly pinFile: string };

export interface OpenedRoot {
  readonly root: SigningCa;
  /** Logs out of the token, if the root is in one. */
  close(): Promise<void>;
}

/**
 * Writes a new root's files into `directory` (made 0700 if missing). Refuses a
 * directory that already holds a root: a root is never overwritten, it is
 * replaced by a rotation. The key file is created 0600, exclusively.
 */
export async function writeRootDirectory(directory: string, created: CreatedOfflineRoot, token?: RootTokenNote): Promise<void> {
  if ((created.encryptedPrivateKeyPem === undefined) === (token === undefined)) {
    throw new RangeError('a root directory holds either the encrypted key or the note of its token, one of them');
  }
  await mkdir(directory, { recursive: true, mode: 0o700 });
  await writeNewFile(join(directory, ROOT_FILES.certificate), created.certificatePem, 0o644, rootFileExists);
  if (created.encryptedPrivateKeyPem !== undefined) {
    await writeNewFile(join(directory, ROOT_FILES.encryptedKey), created.encryptedPrivateKeyPem, 0o600, rootFileExists);
  } else {
    await writeNewFile(
      join(directory, ROOT_FILES.token),
      `${JSON.stringify(tokenNoteSchema.parse(token), null, 2)}\n`,
      0o644,
      rootFileExists,
    );
  }
  await writeNewFile(join(directory, ROOT_FILES.revoked), '[]\n', 0o644, rootFileExists);
}

/** Opens the root in `directory` to sign with: decrypts its key file, or reaches its token. */
export async function openRootDirectory(directory: string, access: RootAccess): Promise<OpenedRoot> {
  const certificatePem = await readRootFile(directory, ROOT_FILES.certificate);
  if ('passphraseFile' in access) {
    const keyPath = join(directory, ROOT_FILES.encryptedKey);
    const passphrase = await readPassphraseFile(access.passphraseFile);
    checkPassphrase(passphrase);
    const root = openEncryptedRoot(certificatePem, await readRootFile(directory, ROOT_FILES.encryptedKey), passphrase, keyPath);
    return { root, close: () => Promise.resolve() };
  }
  const notePath = join(directory, ROOT_FILES.token);
  const note = parseTokenNote(notePath, await readRootFile(directory, ROOT_FILES.token));
  const provider = Pkcs11KeyProvider.open({ modulePath: note.modulePath, tokenLabel: note.tokenLabel, pinFile: resolve(access.pinFile) });
  try {
    return { root: await openTokenRoot(certificatePem, provider, note.keyLabel, notePath), close: () => provider.close() };
  } catch (error) {
    await provider.close();
    throw error;
  }
}

function parseTokenNote(path: string, text: string): RootTokenNote {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new RootKeyError(path, 'is not JSON', { cause: error });
  }
  const parsed = tokenNoteSchema.safeParse(json);
  if (!parsed.success) {
    throw new RootKeyError(path, `is not a token note: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

async function readRevocations(directory: string): Promise<Revocation[]> {
  const file = join(directory, ROOT_FILES.revoked);
  let json: unknown;
  try {
    json = JSON.parse(await readRootFile(directory, ROOT_FILES.revoked));
  } catch (error) {
    if (error instanceof RootKeyError) throw error;
    throw new RootKeyError(file, 'is not JSON', { cause: error });
  }
  const parsed = revokedSchema.safeParse(json);
  if (!parsed.success) throw new RootKeyError(file, 'is not a list of revocations ({ serial, revokedAt })');
  return parsed.data.map((r) => ({ serial: normalizeSerial(r.serial), revokedAt: new Date(r.revokedAt) }));
}

/**
 * Every revocation the root's next CRL lists: those recorded, plus `serials`
 * revoked at `now`. A serial revoked before keeps its first date (when relying
 * parties should have stopped trusting it). A serial this root has no copy of
 * in `issued/` is refused: a mistyped serial would leave the certificate the
 * operator meant to revoke trusted, with a CRL that looks right.
 */
export async function revocationsWith(directory: string, serials: readonly string[], now: Date): Promise<Revocation[]> {
  const revoked = await readRevocations(directory);
  const known = new Set(revoked.map((r) => r.serial));
  for (const serial of serials.map(normalizeSerial)) {
    if (known.has(serial)) continue;
    const copy = join(directory, ROOT_FILES.issued, `${serial}.pem`);
    if (!(await exists(copy))) throw new RootKeyError(copy, `is missing: this root did not issue serial ${serial}; check the serial`);
    known.add(serial);
    revoked.push({ serial, revokedAt: now });
  }
  return revoked;
}

/** Replaces the root's record of revocations (after the CRL listing them was signed). */
export async function writeRevocations(directory: string, revoked: readonly Revocation[]): Promise<void> {
  const stored = revoked.map((r) => ({ serial: r.serial, revokedAt: r.revokedAt.toISOString() }));
  await writeFile(join(directory, ROOT_FILES.revoked), `${JSON.stringify(stored, null, 2)}\n`);
}

/** Keeps a copy of a certificate the root signed, as `issued/<serial>.pem`; returns the serial. */
export async function recordIssued(directory: string, certificatePem: string): Promise<string> {
  const serial = normalizeSerial(new X509Certificate(certificatePem).serialNumber);
  await mkdir(join(directory, ROOT_FILES.issued), { recursive: true, mode: 0o700 });
  await writeNewFile(join(directory, ROOT_FILES.issued, `${serial}.pem`), certificatePem, 0o644, rootFileExists);
  return serial;
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

async function readRootFile(directory: string, name: string): Promise<string> {
  try {
    return await readFile(join(directory, name), 'utf8');
  } catch (error) {
    throw new RootKeyError(join(directory, name), 'cannot be read (is this an offline root directory?)', { cause: error });
  }
}

/** Never replace a file already there (another root's key, a certificate it issued). */
function rootFileExists(file: string): Error {
  return new RootKeyError(file, 'exists already; a root is never overwritten');
}
