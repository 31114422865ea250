import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CertificateAuthority } from './certificate-authority.js';
import { deviceIdFromPublicKey } from './device-id.js';
import { PeerIdentityError, deviceIdFromVerifiedCertificate } from './peer-identity.js';

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
