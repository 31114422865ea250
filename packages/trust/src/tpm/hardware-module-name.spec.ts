import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../certificate-authority.js';
import { deviceIdFromSpki, spkiOf } from '../device-id.js';
import { deviceIdFromVerifiedCertificate } from '../peer-identity.js';
import { HW_TYPE_TPM2, hardwareModuleNamesOf, tpmSerialOf } from './hardware-module-name.js';

describe('hardwareModuleName (RFC 4108) in an IDevID', () => {
  it('names the TPM (its EK) beside the device id, and reads back', async () => {
    const ca = await CertificateAuthority.create('Test Manufacturer');
    const device = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ek = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = spkiOf(device.publicKey);
    const serial = tpmSerialOf(ek.publicKey);
    const pem = (await ca.issueDeviceIdentity(deviceIdFromSpki(spki), spki, 30, { hwType: HW_TYPE_TPM2, serial })).toString('pem');
    const certificate = new X509Certificate(pem);
    expect(hardwareModuleNamesOf(certificate)).toEqual([{ hwType: HW_TYPE_TPM2, serial }]);
    expect(deviceIdFromVerifiedCertificate(certificate)).toBe(deviceIdFromSpki(spki));
    expect(certificate.subjectAltName).toContain(`URI:urn:rampart:device:${deviceIdFromSpki(spki)}`);
    expect(tpmSerialOf(createPublicKey(ek.publicKey.export({ type: 'spki', format: 'pem' })))).toEqual(serial);
  });

  it('finds none in an IDevID without one', async () => {
    const ca = await CertificateAuthority.create('Test Manufacturer');
    const device = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = spkiOf(device.publicKey);
    const certificate = new X509Certificate((await ca.issueDeviceIdentity(deviceIdFromSpki(spki), spki)).toString('pem'));
    expect(hardwareModuleNamesOf(certificate)).toEqual([]);
  });
});
