import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateList } from '@peculiar/asn1-x509';
import { describe, expect, it } from 'vitest';
import { x509 } from '../crypto-provider.js';
import { normalizeSerial, signCaCrl } from './ca-certificates.js';
import { createOfflineRoot } from './offline-root.js';

describe(normalizeSerial.name, () => {
  it('reads a serial as openssl, node and browsers print it: any case, colons, 0x, leading zeros', () => {
    expect(normalizeSerial('0A:BC:DE')).toBe('0abcde');
    expect(normalizeSerial('0x00abcd')).toBe('abcd');
    expect(normalizeSerial(' ABC ')).toBe('0abc');
  });

  it('refuses what is not a serial: zero, non-hex, more than 20 octets', () => {
    for (const bad of ['0', '00', 'xyz', '', 'a'.repeat(41)]) expect(() => normalizeSerial(bad)).toThrow(/is not a certificate serial/);
  });
});

describe(signCaCrl.name, () => {
  it('keeps a serial with its top bit set positive (a zero octet in front, X.690 §8.3), as relying parties read it', async () => {
    const { root } = await createOfflineRoot({
      commonName: 'Spec Root',
      keys: { kind: 'encrypted-file', passphrase: 'a spec passphrase, long enough' },
    });
    const pem = await signCaCrl(root, { revoked: [{ serial: 'ff01', revokedAt: new Date() }], nextUpdateDays: 1, crlNumber: 7 });
    const crl = AsnConvert.parse(x509.PemConverter.decodeFirst(pem), CertificateList);
    const serials = crl.tbsCertList.revokedCertificates?.map((r) => Buffer.from(r.userCertificate).toString('hex'));
    expect(serials).toEqual(['00ff01']);
  });
});
