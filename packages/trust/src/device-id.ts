import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

/**
 * The device id: lowercase hex SHA-256 of the public key's DER
 * SubjectPublicKeyInfo. Derived from the key, so it can neither be chosen nor
 * changed (see ARCHITECTURE.md, "Device keys").
 */
export function deviceIdFromSpki(spkiDer: Uint8Array): string {
  return createHash('sha256').update(spkiDer).digest('hex');
}

export function deviceIdFromPublicKey(publicKey: KeyObject): string {
  return deviceIdFromSpki(publicKey.export({ type: 'spki', format: 'der' }));
}

export function deviceIdFromPublicKeyPem(pem: string): string {
  return deviceIdFromPublicKey(createPublicKey(pem));
}

/** The certificates in a PEM bundle, each as its own PEM block. */
export function certificatesInPemBundle(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
