import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deviceIdFromPublicKey, deviceIdFromSpki, spkiOf } from './device-id.js';

describe('spkiOf', () => {
  it('gives the same bytes as the OpenSSL encoder for P-256 keys', () => {
    for (let i = 0; i < 50; i++) {
      const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const expected = publicKey.export({ type: 'spki', format: 'der' });
      expect(spkiOf(publicKey).equals(expected)).toBe(true);
      expect(deviceIdFromPublicKey(publicKey)).toBe(deviceIdFromSpki(expected));
    }
  });

  it('falls back to the encoder for other key types', () => {
    for (const { publicKey } of [
      generateKeyPairSync('ec', { namedCurve: 'P-384' }),
      generateKeyPairSync('ed25519'),
      generateKeyPairSync('rsa', { modulusLength: 1024 }),
    ]) {
      expect(spkiOf(publicKey).equals(publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
    }
  });
});
