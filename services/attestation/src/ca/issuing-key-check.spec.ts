import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@rampart/service-kit';
import {
  DirectorySealedKeyStore,
  ISSUING_CA_KEY_LABEL,
  IssuingCaKeyError,
  KeyNotFoundError,
  KeyVault,
  SoftwareKeyProvider,
  TokenUnavailableError,
  createIssuingCsr,
  createOfflineRoot,
  signIssuingCa,
  type KeyProvider,
} from '@rampart/trust';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IssuingKeyCheck } from './issuing-key-check.js';

/** The provider as the check sees it, counting how often it asks for the key (the token is asked, not a cache). */
function counting(provider: KeyProvider) {
  const asked = { finds: 0 };
  return {
    asked,
    provider: {
      kind: provider.kind,
      find: (label: string) => {
        asked.finds += 1;
        return provider.find(label);
      },
      publicKey: (label: string) => provider.publicKey(label),
    },
  };
}

describe(IssuingKeyCheck.name, () => {
  let dir: string;
  let holder: SoftwareKeyProvider;
  let certificate: X509Certificate;
  const logger = createLogger('attestation', 'silent');
  const providerIn = (name: string) => new SoftwareKeyProvider(new KeyVault(randomBytes(32)), new DirectorySealedKeyStore(join(dir, name)));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-issuing-key-check-'));
    holder = providerIn('holder');
    const root = await createOfflineRoot({
      commonName: 'Rampart Root',
      keys: { kind: 'encrypted-file', passphrase: 'offline, long enough' },
    });
    certificate = new X509Certificate(await signIssuingCa({ root: root.root, csrPem: (await createIssuingCsr(holder)).csrPem }));
  });

  afterAll(async () => {
    await holder.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("gives the key once it is the certificate's, asking the token once, and tells a listener once", async () => {
    const { asked, provider } = counting(holder);
    const check = new IssuingKeyCheck(certificate, provider, ISSUING_CA_KEY_LABEL, logger);
    let told = 0;
    check.oncePassed(() => (told += 1));
    const [first, second] = await Promise.all([check.key(), check.key()]);
    expect(first).toEqual({ label: ISSUING_CA_KEY_LABEL, algorithm: 'ecdsa-p256' });
    expect(second).toEqual(first);
    await check.key();
    expect(asked.finds).toBe(1);
    expect(told).toBe(1);
    // Registered after the pass: told at once.
    check.oncePassed(() => (told += 1));
    expect(told).toBe(2);
  });

  it('asks again after a failure of the token, not after a tenant key’s own error', async () => {
    const { asked, provider } = counting(holder);
    const check = new IssuingKeyCheck(certificate, provider, ISSUING_CA_KEY_LABEL, logger);
    await check.key();
    check.tokenFailed(new KeyNotFoundError('rampart/fleet/ca-1', 'token "t"'));
    check.tokenFailed(new Error('not the token'));
    await check.key();
    expect(asked.finds).toBe(1);
    check.tokenFailed(new TokenUnavailableError('"t"', 'pulled'));
    await check.key();
    expect(asked.finds).toBe(2);
  });

  it("refuses a missing key by the provider's KeyNotFoundError and keeps asking; another key by IssuingCaKeyError until the token fails", async () => {
    const other = providerIn('other');
    try {
      const { asked, provider } = counting(other);
      const check = new IssuingKeyCheck(certificate, provider, ISSUING_CA_KEY_LABEL, logger);
      await expect(check.key()).rejects.toThrow(KeyNotFoundError);
      await expect(check.key()).rejects.toMatchObject({ label: ISSUING_CA_KEY_LABEL });
      expect(asked.finds).toBe(2);

      await other.generate(ISSUING_CA_KEY_LABEL, 'ecdsa-p256');
      await expect(check.key()).rejects.toThrow(IssuingCaKeyError);
      await expect(check.key()).rejects.toThrow(/is not the issuing CA certificate's key/);
      expect(asked.finds).toBe(3); // refused: not asked again while the token answers
      check.tokenFailed(new TokenUnavailableError('"t"', 'pulled'));
      await expect(check.key()).rejects.toThrow(IssuingCaKeyError);
      expect(asked.finds).toBe(4);
    } finally {
      await other.close();
    }
  });
});
