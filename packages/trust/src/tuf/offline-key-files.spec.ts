import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OfflineKeyError, createOfflineKeyFiles, loadOfflineKey, readOfflinePublicKey, readPassphraseFile } from './offline-key-files.js';
import { TufSigningKey } from './tuf-keys.js';

const PASSPHRASE = 'correct horse battery staple';

describe('offline TUF key files', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-offline-keys-'));
  });

  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('keeps the private key encrypted (0600) and gives the public key whose TUF key id it signs under', async () => {
    const files = await createOfflineKeyFiles(join(dir, 'holder-1'), PASSPHRASE);
    expect(files.publicKeyFile).toBe(join(dir, 'holder-1.pub'));
    expect((await stat(files.privateKeyFile)).mode & 0o777).toBe(0o600);
    const pem = await readFile(files.privateKeyFile, 'utf8');
    expect(pem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    const key = await loadOfflineKey(files.privateKeyFile, PASSPHRASE);
    const published = await readOfflinePublicKey(files.publicKeyFile);
    expect(key.keyId).toBe(files.keyId);
    expect(published.keyID).toBe(files.keyId);
    expect(published.toJSON()).toEqual(key.key.toJSON());
  });

  it('refuses a wrong passphrase, a short one, a key in the clear and overwriting a key', async () => {
    const files = await createOfflineKeyFiles(join(dir, 'holder-2'), PASSPHRASE);
    await expect(loadOfflineKey(files.privateKeyFile, 'not the passphrase')).rejects.toThrow(/wrong passphrase/);
    await expect(createOfflineKeyFiles(join(dir, 'holder-3'), 'short')).rejects.toThrow(/at least 12 characters/);
    const clear = join(dir, 'clear.key');
    await writeFile(clear, TufSigningKey.generate().exportPrivatePem());
    await expect(loadOfflineKey(clear, PASSPHRASE)).rejects.toThrow(/not an encrypted PKCS#8 key/);
    await expect(createOfflineKeyFiles(files.privateKeyFile, PASSPHRASE)).rejects.toBeInstanceOf(OfflineKeyError);
    // The refused second create left the first key as it was.
    expect((await loadOfflineKey(files.privateKeyFile, PASSPHRASE)).keyId).toBe(files.keyId);
  });

  it('reads the first line of a passphrase file, and refuses an empty one or a public key that is not Ed25519', async () => {
    const file = join(dir, 'passphrase');
    await writeFile(file, `${PASSPHRASE}\n`);
    expect(await readPassphraseFile(file)).toBe(PASSPHRASE);
    await writeFile(file, '\n');
    await expect(readPassphraseFile(file)).rejects.toThrow(/is empty/);
    await expect(readPassphraseFile(join(dir, 'missing'))).rejects.toThrow(/cannot read the passphrase file .*ENOENT/);
    const ec = join(dir, 'ec.pub');
    await writeFile(ec, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }));
    await expect(readOfflinePublicKey(ec)).rejects.toThrow(/is not an Ed25519 public key/);
  });
});
