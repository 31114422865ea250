import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DirectorySealedKeyStore,
  ISSUING_CA_KEY_LABEL,
  IssuingCaChainError,
  IssuingCaConstraintsError,
  IssuingCaKeyError,
  IssuingCaRevokedError,
  KeyNotFoundError,
  RootCrlError,
  KeyVault,
  SoftwareKeyProvider,
  TENANT_CA_PATH_LENGTH,
  checkIssuingCaCertificate,
  checkIssuingCaKey,
  checkRootCrl,
  commonNameOnly,
  createIssuingCsr,
  createOfflineRoot,
  importIssuingCa,
  keyLabel,
  refuseRevokedIssuingCa,
  rootCrl,
  signIssuingCa,
  signSubordinateCa,
  type SigningCa,
} from '../src/index.js';
import { spkiOf } from '../src/ceremony/offline-root.js';

const PASSPHRASE = 'correct horse battery staple, offline';

describe(importIssuingCa.name, () => {
  let dir: string;
  let provider: SoftwareKeyProvider;
  let root: SigningCa;
  let rootPem: string;
  let issuingPem: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-issuing-import-'));
    provider = new SoftwareKeyProvider(new KeyVault(randomBytes(32)), new DirectorySealedKeyStore(join(dir, 'keys')));
    const created = await createOfflineRoot({ commonName: 'Rampart Root', keys: { kind: 'encrypted-file', passphrase: PASSPHRASE } });
    root = created.root;
    rootPem = created.certificatePem;
    const csr = await createIssuingCsr(provider);
    issuingPem = await signIssuingCa({ root, csrPem: csr.csrPem });
  });

  afterAll(async () => {
    await provider.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts the ceremony’s issuing CA under its root, with the key the provider holds', async () => {
    const other = await createOfflineRoot({ commonName: 'Rampart Root 2', keys: { kind: 'encrypted-file', passphrase: PASSPHRASE } });
    const imported = await importIssuingCa({ issuingPem, rootsPem: other.certificatePem + rootPem, provider });
    expect(imported.key).toEqual({ label: ISSUING_CA_KEY_LABEL, algorithm: 'ecdsa-p256' });
    expect(imported.roots).toHaveLength(2);
    expect(imported.root.fingerprint256).toBe(new X509Certificate(rootPem).fingerprint256);
  });

  it('refuses an issuing CA that none of the roots signed (IssuingCaChainError), and an empty roots file', async () => {
    const other = await createOfflineRoot({ commonName: 'Rampart Root', keys: { kind: 'encrypted-file', passphrase: PASSPHRASE } });
    await expect(importIssuingCa({ issuingPem, rootsPem: other.certificatePem, provider })).rejects.toThrow(IssuingCaChainError);
    await expect(importIssuingCa({ issuingPem, rootsPem: other.certificatePem, provider })).rejects.toThrow(/signed by none of the 1 root/);
    await expect(importIssuingCa({ issuingPem, rootsPem: '', provider })).rejects.toThrow(/the roots file holds no certificate/);
    // The issuing CA is no root: a roots file holding it is refused by name.
    await expect(importIssuingCa({ issuingPem, rootsPem: issuingPem, provider })).rejects.toThrow(/is not a self-signed CA/);
  });

  it('refuses a CA with pathLen 0 as the issuing CA (IssuingCaConstraintsError): no tenant CA could stand below it', async () => {
    const label = keyLabel('platform', 'issuing-low');
    await provider.generate(label, 'ecdsa-p256');
    const pathLenZero = await signSubordinateCa(root, {
      subject: commonNameOnly('Not an issuing CA'),
      subjectPublicKeyInfo: spkiOf(await provider.publicKey(label)),
      pathLength: TENANT_CA_PATH_LENGTH,
      validityDays: 30,
    });
    const refused = importIssuingCa({ issuingPem: pathLenZero, rootsPem: rootPem, provider, label });
    await expect(refused).rejects.toThrow(IssuingCaConstraintsError);
    await expect(refused).rejects.toThrow(/its pathLen is 0: a tenant CA below it needs at least 1/);
  });

  it('refuses when the provider has no issuing key (KeyNotFoundError), or another key than the certificate’s (IssuingCaKeyError)', async () => {
    const empty = new SoftwareKeyProvider(new KeyVault(randomBytes(32)), new DirectorySealedKeyStore(join(dir, 'empty')));
    const missing = importIssuingCa({ issuingPem, rootsPem: rootPem, provider: empty });
    await expect(missing).rejects.toThrow(KeyNotFoundError);
    await expect(missing).rejects.toMatchObject({ label: ISSUING_CA_KEY_LABEL });
    await empty.generate(ISSUING_CA_KEY_LABEL, 'ecdsa-p256');
    const another = importIssuingCa({ issuingPem, rootsPem: rootPem, provider: empty });
    await expect(another).rejects.toThrow(IssuingCaKeyError);
    await expect(another).rejects.toThrow(/is not the issuing CA certificate's key/);
    await empty.close();
  });

  it('checks the files without a provider (checkIssuingCaCertificate) and the key apart (checkIssuingCaKey)', async () => {
    const checked = checkIssuingCaCertificate({ issuingPem, rootsPem: rootPem });
    expect(checked.root.fingerprint256).toBe(new X509Certificate(rootPem).fingerprint256);
    expect(() => checkIssuingCaCertificate({ issuingPem, rootsPem: '' })).toThrow(IssuingCaChainError);
    expect(await checkIssuingCaKey(checked.certificate, provider)).toEqual({ label: ISSUING_CA_KEY_LABEL, algorithm: 'ecdsa-p256' });
  });

  it('refuses an issuing CA that is not valid now', async () => {
    await expect(
      importIssuingCa({ issuingPem, rootsPem: rootPem, provider, now: new Date(Date.now() + 3650 * 86_400_000) }),
    ).rejects.toThrow(IssuingCaConstraintsError);
  });

  it('refuses an issuing CA that its root’s CRL lists (IssuingCaRevokedError); another root’s CRL, or one listing others, says nothing of it', async () => {
    const checked = checkIssuingCaCertificate({ issuingPem, rootsPem: rootPem });
    const serial = checked.certificate.serialNumber;
    const revoking = await checkRootCrl(
      await rootCrl({ root, revoked: [{ serial, revokedAt: new Date() }], nextUpdateDays: 30, crlNumber: 7 }),
      checked.roots,
      'root.crl',
    );
    expect(revoking.crlNumber).toBe(7);
    expect(() => refuseRevokedIssuingCa(checked, revoking, 'root.crl')).toThrow(IssuingCaRevokedError);
    expect(() => refuseRevokedIssuingCa(checked, revoking, 'root.crl')).toThrow(/is revoked by the root CRL root.crl/);
    const others = await checkRootCrl(
      await rootCrl({ root, revoked: [{ serial: '0a0b0c', revokedAt: new Date() }], nextUpdateDays: 30 }),
      checked.roots,
      'root.crl',
    );
    expect(() => refuseRevokedIssuingCa(checked, others, 'root.crl')).not.toThrow();
    // A CRL of another root (during a root rotation) lists that root's certificates, not this issuing CA's.
    const other = await createOfflineRoot({ commonName: 'Rampart Root 2', keys: { kind: 'encrypted-file', passphrase: PASSPHRASE } });
    const otherCrl = await checkRootCrl(
      await rootCrl({ root: other.root, revoked: [{ serial, revokedAt: new Date() }], nextUpdateDays: 30 }),
      [new X509Certificate(rootPem), new X509Certificate(other.certificatePem)],
      'root.crl',
    );
    expect(() => refuseRevokedIssuingCa(checked, otherCrl, 'root.crl')).not.toThrow();
    await expect(checkRootCrl(otherCrl.pem, checked.roots, 'root.crl')).rejects.toThrow(RootCrlError);
    await expect(checkRootCrl(`${revoking.pem}${revoking.pem}`, checked.roots, 'root.crl')).rejects.toThrow(/not one "X509 CRL"/);
  });

  it('refuses an issuing CA whose keyUsage lacks cRLSign (it signs its own CRL) or keyCertSign', async () => {
    const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const rootKeys = await crypto.subtle.generateKey(algorithm, false, ['sign', 'verify']);
    const rootCert = await x509.X509CertificateGenerator.createSelfSigned({
      name: 'CN=Test Root',
      keys: rootKeys,
      signingAlgorithm: algorithm,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      extensions: [
        new x509.BasicConstraintsExtension(true, 2, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    });
    const issuingWith = async (usages: number) =>
      (
        await x509.X509CertificateGenerator.create({
          subject: 'CN=Issuing',
          issuer: rootCert.subject,
          publicKey: (await crypto.subtle.generateKey(algorithm, false, ['sign', 'verify'])).publicKey,
          signingKey: rootKeys.privateKey,
          signingAlgorithm: algorithm,
          notBefore: new Date(Date.now() - 60_000),
          notAfter: new Date(Date.now() + 3_600_000),
          extensions: [new x509.BasicConstraintsExtension(true, 1, true), new x509.KeyUsagesExtension(usages, true)],
        })
      ).toString('pem');
    const rootsPem = rootCert.toString('pem');
    const both = await issuingWith(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(checkIssuingCaCertificate({ issuingPem: both, rootsPem }).root.subject).toBe('CN=Test Root');
    const noCrlSign = await issuingWith(x509.KeyUsageFlags.keyCertSign);
    expect(() => checkIssuingCaCertificate({ issuingPem: noCrlSign, rootsPem })).toThrow(IssuingCaConstraintsError);
    expect(() => checkIssuingCaCertificate({ issuingPem: noCrlSign, rootsPem })).toThrow(/lacks cRLSign/);
    const noCertSign = await issuingWith(x509.KeyUsageFlags.cRLSign);
    expect(() => checkIssuingCaCertificate({ issuingPem: noCertSign, rootsPem })).toThrow(/lacks keyCertSign/);
  });
});
