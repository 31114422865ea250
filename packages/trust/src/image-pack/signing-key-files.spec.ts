import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf } from '../signed-image.js';
import {
  SigningKeyError,
  createSigningKeyFiles,
  loadImageSigner,
  loadOrCreateImageSigner,
  readPublicKeyFile,
} from './signing-key-files.js';

describe('signing key files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-keys-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a PKCS#8 private key (0600) and an SPKI public key, and gives the key id the fuses hold', async () => {
    const files = await createSigningKeyFiles(join(dir, 'keys'), 'platform');
    const privatePem = await readFile(files.privateKeyFile, 'utf8');
    const publicPem = await readFile(files.publicKeyFile, 'utf8');
    expect(privatePem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(publicPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect((await stat(files.privateKeyFile)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'keys'))).mode & 0o077).toBe(0);
    const spki = createPublicKey(publicPem).export({ type: 'spki', format: 'der' });
    expect(files.keyId).toBe(keyIdOf(spki));
    // The private key's public half is the .pub, and the signer made from it has the same id.
    expect(createPublicKey(createPrivateKey(privatePem)).export({ type: 'spki', format: 'der' }).equals(spki)).toBe(true);
    expect((await loadImageSigner(files.privateKeyFile)).keyId).toBe(files.keyId);
    expect(keyIdOf(await readPublicKeyFile(files.publicKeyFile))).toBe(files.keyId);
    expect(keyIdOf(await readPublicKeyFile(files.privateKeyFile))).toBe(files.keyId);
  });

  it('never overwrites a key, and leaves the first one intact', async () => {
    const first = await createSigningKeyFiles(dir, 'apps');
    const before = await readFile(first.privateKeyFile, 'utf8');
    await expect(createSigningKeyFiles(dir, 'apps')).rejects.toThrow(/apps.key exists; a key file is never overwritten/);
    expect(await readFile(first.privateKeyFile, 'utf8')).toBe(before);
    // A stray .pub with no .key: refused, and no orphan .key is left behind.
    await writeFile(join(dir, 'stray.pub'), 'x');
    await expect(createSigningKeyFiles(dir, 'stray')).rejects.toThrow(/stray.pub exists/);
    await expect(stat(join(dir, 'stray.key'))).rejects.toThrow(/ENOENT/);
  });

  it('refuses names that are not plain file names', async () => {
    for (const name of ['../evil', '.hidden', '', 'a/b']) {
      await expect(createSigningKeyFiles(dir, name)).rejects.toThrow(/is not a key name: 1-64 letters/);
    }
  });

  it('names the file that is missing, not a key, or not P-256', async () => {
    await expect(loadImageSigner(join(dir, 'nothing.key'))).rejects.toThrow(/cannot read the key file .*nothing.key \(ENOENT\)/);
    await writeFile(join(dir, 'junk.key'), 'hello');
    await expect(loadImageSigner(join(dir, 'junk.key'))).rejects.toThrow(/junk.key is not a PEM private key/);
    await writeFile(
      join(dir, 'rsa.key'),
      generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    const error = await loadImageSigner(join(dir, 'rsa.key')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SigningKeyError);
    expect((error as SigningKeyError).message).toMatch(/is not a P-256 \(prime256v1\) EC key; make one with: rampart keys create/);
    expect((error as SigningKeyError).path).toBe(join(dir, 'rsa.key'));
  });

  it('makes an installation key once and reads the same key afterwards', async () => {
    const made = await loadOrCreateImageSigner(join(dir, 'signing'), 'platform');
    const again = await loadOrCreateImageSigner(join(dir, 'signing'), 'platform');
    expect(again.signer.keyId).toBe(made.signer.keyId);
    expect(again.files).toEqual(made.files);
    expect((await stat(made.files.privateKeyFile)).mode & 0o777).toBe(0o600);
  });
});
