import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Attributes, Counter, Meter } from '@opentelemetry/api';
import { createLogger } from '@rampart/service-kit';
import {
  CertificateAuthority,
  DirectorySealedKeyStore,
  IssuingCaRevokedError,
  KeyVault,
  RootCrlError,
  SoftwareKeyProvider,
  createIssuingCsr,
  createOfflineRoot,
  rootCrl,
  signIssuingCa,
  type SigningCa,
} from '@rampart/trust';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SigningMeter } from './signing-meter.js';
import type { TenantCaRow } from '../attestation/attestation.repository.js';
import { SealedTenantCaKeyError, TokenPlatformCa } from './token-platform-ca.js';

/** A meter that keeps what its counters were given: the telemetry sink, not a part under test. */
function recordingMeter() {
  const added: Array<{ name: string; attributes: Attributes | undefined }> = [];
  const meter = {
    createCounter: (name: string) => ({ add: (_value: number, attributes?: Attributes) => added.push({ name, attributes }) }) as Counter,
  } as unknown as Meter;
  return { added, meter };
}

describe(TokenPlatformCa.name, () => {
  let dir: string;
  let provider: SoftwareKeyProvider;
  let root: SigningCa;
  let files: { issuingCertFile: string; rootCertFile: string; rootCrlFile: string };
  let issuingSerial: string;
  const logger = createLogger('attestation', 'silent');
  const crlWith = (crlNumber: number, revoked: string[] = []) =>
    rootCrl({ root, revoked: revoked.map((serial) => ({ serial, revokedAt: new Date() })), nextUpdateDays: 30, crlNumber });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-token-platform-ca-'));
    provider = new SoftwareKeyProvider(new KeyVault(randomBytes(32)), new DirectorySealedKeyStore(join(dir, 'keys')));
    const created = await createOfflineRoot({
      commonName: 'Rampart Root',
      keys: { kind: 'encrypted-file', passphrase: 'offline, long enough' },
    });
    root = created.root;
    const issuingPem = await signIssuingCa({ root, csrPem: (await createIssuingCsr(provider)).csrPem });
    issuingSerial = new X509Certificate(issuingPem).serialNumber;
    files = { issuingCertFile: join(dir, 'issuing.pem'), rootCertFile: join(dir, 'roots.pem'), rootCrlFile: join(dir, 'root.crl') };
    await writeFile(files.issuingCertFile, issuingPem);
    await writeFile(files.rootCertFile, created.certificatePem);
  });

  afterAll(async () => {
    await provider.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to start with an issuing CA its root’s CRL revokes (IssuingCaRevokedError)', async () => {
    await writeFile(files.rootCrlFile, await crlWith(1, [issuingSerial]));
    const { meter } = recordingMeter();
    await expect(TokenPlatformCa.open(files, provider, new SigningMeter(meter, 'software'), logger)).rejects.toThrow(IssuingCaRevokedError);
  });

  it('publishes a newer root CRL, and keeps the last good one while the file is missing, forged or older (logged and counted)', async () => {
    const first = await crlWith(5);
    await writeFile(files.rootCrlFile, first);
    const { added, meter } = recordingMeter();
    const platform = await TokenPlatformCa.open(files, provider, new SigningMeter(meter, 'software'), logger);
    const failures = () => added.filter((a) => a.name === 'rampart_ca_crl_refresh_failures_total').map((a) => a.attributes?.['error']);
    expect(await platform.rootCrlPem()).toBe(first);

    const newer = await crlWith(6);
    await writeFile(files.rootCrlFile, newer);
    expect(await platform.rootCrlPem()).toBe(newer);

    // An older CRL of the same root put back: its number goes down.
    await writeFile(files.rootCrlFile, first);
    expect(await platform.rootCrlPem()).toBe(newer);
    // Signed by no configured root.
    const stranger = await createOfflineRoot({
      commonName: 'Rampart Root',
      keys: { kind: 'encrypted-file', passphrase: 'offline, long enough' },
    });
    await writeFile(files.rootCrlFile, await rootCrl({ root: stranger.root, revoked: [], nextUpdateDays: 30, crlNumber: 99 }));
    expect(await platform.rootCrlPem()).toBe(newer);
    // Gone (a config map being replaced).
    await unlink(files.rootCrlFile);
    expect(await platform.rootCrlPem()).toBe(newer);
    expect(failures()).toEqual([RootCrlError.name, RootCrlError.name, 'Error']);

    const newest = await crlWith(7);
    await writeFile(files.rootCrlFile, newest);
    expect(await platform.rootCrlPem()).toBe(newest);
    await platform.close();
  });

  it('destroys the key of a tenant CA it made but could not sign, or that was not stored: no orphan keys pile up', async () => {
    await writeFile(files.rootCrlFile, await crlWith(10));
    const { meter } = recordingMeter();
    const platform = await TokenPlatformCa.open(files, provider, new SigningMeter(meter, 'software'), logger);
    const tenantKeys = async () => (await readdir(join(dir, 'keys'))).filter((name) => name.includes('acme'));
    const before = await tenantKeys();
    // A certificate the issuing CA refuses to sign (no URL for its CRL distribution point): refused after its key was made.
    await expect(platform.createTenantCa('acme', 30, 'not a url')).rejects.toThrow(/is not a URL for a CRL distribution point/);
    expect(await tenantKeys()).toEqual(before);
    // Made, then not stored (the row's insert failed): the caller discards it.
    const made = await platform.createTenantCa('acme', 30, 'http://attestation.test/crl');
    expect(await tenantKeys()).toHaveLength(before.length + 1);
    await platform.discardTenantCa(made);
    expect(await tenantKeys()).toEqual(before);
    await platform.close();
  });

  it('signs the CRL of a tenant CA sealed before three tiers with the key vault until it expires; without one, refuses by name', async () => {
    await writeFile(files.rootCrlFile, await crlWith(11));
    const vault = new KeyVault(randomBytes(32));
    const formerRoot = await CertificateAuthority.create('Rampart Platform Root (two tiers)');
    const former = await (await formerRoot.issueIntermediate('Rampart tenant acme CA', 30, { tenantId: 'acme' })).export();
    const row: TenantCaRow = {
      id: '00000000-0000-4000-8000-000000000001',
      tenantId: 'acme',
      certificatePem: former.certificatePem,
      encryptedKey: vault.seal(former.privateKeyPem, 'acme'),
      keyLabel: null,
      issuerCertificatePem: formerRoot.certificatePem,
      notAfter: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      status: 'retired',
    };
    const request = { entries: [], thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 86_400_000), crlNumber: 3 };
    const { meter } = recordingMeter();
    const withVault = await TokenPlatformCa.open(files, provider, new SigningMeter(meter, 'software'), logger, vault);
    const crl = new x509.X509Crl(await withVault.signTenantCaCrl(row, request));
    expect(await crl.verify({ publicKey: new x509.X509Certificate(former.certificatePem) })).toBe(true);
    // It never issues from the software key: it is rotated.
    expect(() => withVault.deviceIssuer(row, 'http://attestation.test/crl')).toThrow(SealedTenantCaKeyError);
    await withVault.close();

    const without = await TokenPlatformCa.open(files, provider, new SigningMeter(meter, 'software'), logger);
    await expect(without.signTenantCaCrl(row, request)).rejects.toThrow(SealedTenantCaKeyError);
    await expect(without.signTenantCaCrl(row, request)).rejects.toMatchObject({ code: 'UNAVAILABLE', caId: row.id });
    await without.close();
  });
});
