import { generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CertificateAuthority } from './certificate-authority.js';
import { signSubordinateCa, type SigningCa } from './ceremony/ca-certificates.js';
import { ISSUING_CA_PATH_LENGTH, commonNameOnly, createOfflineRoot, spkiOf } from './ceremony/offline-root.js';
import { signTenantCa } from './ceremony/tenant-ca.js';
import { deviceIdFromPublicKey } from './device-id.js';
import { OperationalCertificateIssuer } from './operational-issuer.js';
import { PeerIdentityError, deviceIdFromVerifiedCertificate, tenantOfOperationalCertificate } from './peer-identity.js';

function newDeviceKey() {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { publicKey, spki: publicKey.export({ type: 'spki', format: 'der' }), id: deviceIdFromPublicKey(publicKey) };
}

describe('deviceIdFromVerifiedCertificate', () => {
  it('returns the id derived from the certificate key', async () => {
    const ca = await CertificateAuthority.create('test manufacturer');
    const key = newDeviceKey();
    const cert = new X509Certificate((await ca.issueDeviceIdentity(key.id, key.spki)).toString('pem'));
    expect(deviceIdFromVerifiedCertificate(cert)).toBe(key.id);
    expect(cert.verify(new X509Certificate(ca.certificatePem).publicKey)).toBe(true);
  });

  it('refuses a certificate that names another device than its key', async () => {
    const ca = await CertificateAuthority.create('test manufacturer');
    const key = newDeviceKey();
    const victim = newDeviceKey();
    const cert = new X509Certificate((await ca.issueDeviceIdentity(victim.id, key.spki)).toString('pem'));
    expect(() => deviceIdFromVerifiedCertificate(cert)).toThrow(PeerIdentityError);
  });

  it('refuses a missing certificate', () => {
    expect(() => deviceIdFromVerifiedCertificate(undefined)).toThrow(/no client certificate/);
  });

  it('keeps a CA usable after a store-and-load round trip', async () => {
    const ca = await CertificateAuthority.create('round trip');
    const loaded = await CertificateAuthority.load(await ca.export());
    const key = newDeviceKey();
    const cert = new X509Certificate((await loaded.issueDeviceIdentity(key.id, key.spki)).toString('pem'));
    expect(cert.checkIssued(new X509Certificate(ca.certificatePem))).toBe(true);
  });
});

describe('tenantOfOperationalCertificate', () => {
  const PASSPHRASE = 'a passphrase long enough for the ceremony';
  const ecKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signerOf = (privateKey: KeyObject) => ({
    sign: (_key: unknown, data: Uint8Array) => Promise.resolve(sign('sha256', data, privateKey)),
  });

  /** root → issuing CA → tenant CA (acme) → device, as three tiers issue them; `root` may be another root than the trusted one. */
  async function threeTiers(root: SigningCa) {
    const issuingKey = ecKey();
    const issuingPem = await signSubordinateCa(root, {
      subject: commonNameOnly('Rampart Platform Issuing CA'),
      subjectPublicKeyInfo: spkiOf(issuingKey.publicKey),
      pathLength: ISSUING_CA_PATH_LENGTH,
      validityDays: 30,
    });
    const issuing: SigningCa = {
      certificate: new X509Certificate(issuingPem).raw,
      signer: signerOf(issuingKey.privateKey),
      key: { label: 'rampart/platform/issuing-ca', algorithm: 'ecdsa-p256' },
    };
    const tenantKey = ecKey();
    const tenantPem = await signTenantCa(issuing, {
      tenantId: 'acme',
      publicKey: tenantKey.publicKey,
      validityDays: 30,
      crlDistributionPoint: 'https://attestation.example/v1/platform/crl',
    });
    const device = newDeviceKey();
    const issuer = new OperationalCertificateIssuer(
      new X509Certificate(tenantPem).raw,
      tenantKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      'acme',
    );
    const leaf = issuer.issue({
      deviceId: device.id,
      tenantId: 'acme',
      subjectPublicKeySpki: device.spki,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3_600_000),
    });
    return { leaf: new X509Certificate(leaf), tenantCa: new X509Certificate(tenantPem), issuingCa: new X509Certificate(issuingPem) };
  }

  it('names the tenant of a certificate under a tenant CA that the issuing CA signed under a trusted root', async () => {
    const root = await createOfflineRoot({ commonName: 'Rampart Root', keys: { kind: 'encrypted-file', passphrase: PASSPHRASE } });
    const { leaf, tenantCa, issuingCa } = await threeTiers(root.root);
    expect(tenantOfOperationalCertificate(leaf, tenantCa, [new X509Certificate(root.certificatePem)], issuingCa)).toBe('acme');
  });

  it('refuses the chain without the issuing CA, and one whose issuing CA another root signed', async () => {
    const trusted = await createOfflineRoot({ commonName: 'Rampart Root', keys: { kind: 'encrypted-file', passphrase: PASSPHRASE } });
    const roots = [new X509Certificate(trusted.certificatePem)];
    const genuine = await threeTiers(trusted.root);
    expect(() => tenantOfOperationalCertificate(genuine.leaf, genuine.tenantCa, roots, undefined)).toThrow(PeerIdentityError);
    // An impostor root of the same name: its issuing CA and tenant CA look alike, and chain to nothing trusted.
    const impostor = await createOfflineRoot({ commonName: 'Rampart Root', keys: { kind: 'encrypted-file', passphrase: PASSPHRASE } });
    const forged = await threeTiers(impostor.root);
    expect(() => tenantOfOperationalCertificate(forged.leaf, forged.tenantCa, roots, forged.issuingCa)).toThrow(
      /arrived without the tenant CA that signed it/,
    );
    // The genuine issuing CA beside a tenant CA it did not sign.
    expect(() => tenantOfOperationalCertificate(forged.leaf, forged.tenantCa, roots, genuine.issuingCa)).toThrow(PeerIdentityError);
  });
});
