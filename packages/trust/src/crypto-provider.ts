// @peculiar/x509 reads decorator metadata at import time; reflect-metadata
// must be loaded before it.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

// Node's global WebCrypto (OpenSSL underneath): ECDSA signing here runs at
// thousands of certificates per second, unlike pure-JS signers.
x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
export const subtle = globalThis.crypto.subtle;
export const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
