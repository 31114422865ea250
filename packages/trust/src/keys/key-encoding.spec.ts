import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { curveParameters, ecdsaSignatureToDer, isCurveParameters, publicKeyFromEcPoint } from './key-encoding.js';

describe('ecdsaSignatureToDer', () => {
  it('turns r‖s into the DER node:crypto verifies, for every leading-byte case', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    // r or s with the top bit set (DER adds a zero octet) or a leading zero octet (DER drops it) turn up within a few hundred.
    let highBit = 0;
    for (let i = 0; i < 600; i++) {
      const data = Buffer.from(`message ${i}`);
      const raw = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      if ((raw[0]! & 0x80) !== 0) highBit++;
      const der = ecdsaSignatureToDer(raw);
      expect(verify('sha256', data, publicKey, der)).toBe(true);
    }
    expect(highBit).toBeGreaterThan(0);
  });

  it('keeps small integers minimal: r = 1, s = 0x80', () => {
    const raw = Buffer.alloc(64);
    raw[31] = 1;
    raw[63] = 0x80;
    expect(ecdsaSignatureToDer(raw).toString('hex')).toBe('3007020101020200' + '80');
  });
});

describe('publicKeyFromEcPoint', () => {
  it('rebuilds a P-256 key from CKA_EC_POINT, wrapped in an OCTET STRING or raw', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const point = spki.subarray(spki.length - 65);
    const wrapped = Buffer.concat([Buffer.from([0x04, 65]), point]);
    expect(publicKeyFromEcPoint('ecdsa-p256', wrapped).export({ type: 'spki', format: 'der' }).equals(spki)).toBe(true);
    expect(publicKeyFromEcPoint('ecdsa-p256', point).export({ type: 'spki', format: 'der' }).equals(spki)).toBe(true);
  });

  it('rebuilds an Ed25519 key, and refuses a point of the wrong size', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const wrapped = Buffer.concat([Buffer.from([0x04, 32]), spki.subarray(spki.length - 32)]);
    expect(publicKeyFromEcPoint('ed25519', wrapped).export({ type: 'spki', format: 'der' }).equals(spki)).toBe(true);
    expect(() => publicKeyFromEcPoint('ed25519', Buffer.concat([Buffer.from([0x04, 31]), Buffer.alloc(31)]))).toThrow(RangeError);
  });
});

describe('curveParameters', () => {
  it('is the DER OBJECT IDENTIFIER of each curve', () => {
    expect(curveParameters('ecdsa-p256').toString('hex')).toBe('06082a8648ce3d030107');
    expect(curveParameters('ed25519').toString('hex')).toBe('06032b6570');
  });
});

describe('isCurveParameters', () => {
  it('takes the OID of each curve, and for Ed25519 its name too (what SoftHSM2 answers for an Ed25519 private key)', () => {
    expect(isCurveParameters('ecdsa-p256', Buffer.from('06082a8648ce3d030107', 'hex'))).toBe(true);
    expect(isCurveParameters('ed25519', Buffer.from('06032b6570', 'hex'))).toBe(true);
    // PrintableString "edwards25519", as read back from a SoftHSM2 2.6.1 token.
    expect(isCurveParameters('ed25519', Buffer.from('130c656477617264733235353139', 'hex'))).toBe(true);
    expect(isCurveParameters('ecdsa-p256', Buffer.from('130c656477617264733235353139', 'hex'))).toBe(false);
    expect(isCurveParameters('ed25519', Buffer.from('06082a8648ce3d030107', 'hex'))).toBe(false);
    // curve448's name is not Ed25519's.
    expect(isCurveParameters('ed25519', Buffer.from('130a6564776172647334343', 'hex'))).toBe(false);
  });
});
