import { randomBytes, verify } from 'node:crypto';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DirectorySealedKeyStore,
  KeyExistsError,
  KeyNotFoundError,
  KeyVault,
  SoftwareKeyProvider,
  UnusableKeyError,
  keyLabel,
} from '../src/index.js';

describe(SoftwareKeyProvider.name, () => {
  let dir: string;
  let provider: SoftwareKeyProvider;
  const vault = new KeyVault(randomBytes(32));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-software-keys-'));
    provider = new SoftwareKeyProvider(vault, new DirectorySealedKeyStore(dir));
  });

  afterAll(async () => {
    await provider.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('makes P-256 and Ed25519 keys, signs as X.509 and node:crypto expect, and finds them again after a restart', async () => {
    const ca = await provider.generate(keyLabel({ tenant: 'acme' }, 'ca'), 'ecdsa-p256');
    const tuf = await provider.generate(keyLabel({ tenant: 'acme' }, 'tuf-timestamp'), 'ed25519');
    const data = Buffer.from('to be signed');
    const restarted = new SoftwareKeyProvider(vault, new DirectorySealedKeyStore(dir));
    expect(await restarted.find(ca.label)).toEqual(ca);
    expect(verify('sha256', data, await restarted.publicKey(ca.label), await provider.sign(ca, data))).toBe(true);
    expect(verify(null, data, await restarted.publicKey(tuf.label), await restarted.sign(tuf, data))).toBe(true);
    expect(await restarted.ready([ca.label, tuf.label])).toEqual({ ready: true });
  });

  it('never overwrites a key, and names a missing one', async () => {
    await expect(provider.generate(keyLabel({ tenant: 'acme' }, 'ca'), 'ed25519')).rejects.toBeInstanceOf(KeyExistsError);
    const missing = keyLabel({ tenant: 'acme' }, 'gone');
    expect(await provider.find(missing)).toBeUndefined();
    await expect(provider.sign({ label: missing, algorithm: 'ecdsa-p256' }, Buffer.from('x'))).rejects.toBeInstanceOf(KeyNotFoundError);
    expect(await provider.ready([missing])).toMatchObject({ ready: false, error: { name: 'KeyNotFoundError', label: missing } });
  });

  it('destroys a key (its sealed file), and answers false for a label with none', async () => {
    const label = keyLabel({ tenant: 'acme' }, 'ca-orphan');
    await provider.generate(label, 'ecdsa-p256');
    expect(await provider.destroy(label)).toBe(true);
    expect(await new SoftwareKeyProvider(vault, new DirectorySealedKeyStore(dir)).find(label)).toBeUndefined();
    expect(await provider.find(label)).toBeUndefined();
    expect(await provider.destroy(label)).toBe(false);
  });

  it('does not open a sealed key under another label or another key-encryption key', async () => {
    const original = keyLabel({ tenant: 'acme' }, 'ca');
    const moved = keyLabel({ tenant: 'other' }, 'ca');
    await copyFile(join(dir, `${encodeURIComponent(original)}.sealed`), join(dir, `${encodeURIComponent(moved)}.sealed`));
    await expect(provider.find(moved)).rejects.toBeInstanceOf(UnusableKeyError);
    const otherKek = new SoftwareKeyProvider(new KeyVault(randomBytes(32)), new DirectorySealedKeyStore(dir));
    const readiness = await otherKek.ready([original]);
    expect(readiness).toMatchObject({ ready: false, error: { name: 'UnusableKeyError', label: original } });
  });
});
