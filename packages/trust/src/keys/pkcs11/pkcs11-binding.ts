import { createRequire } from 'node:module';
import type * as Pkcs11js from 'pkcs11js';
import { Pkcs11ModuleError } from '../key-errors.js';

export type Pkcs11Binding = typeof Pkcs11js;

/**
 * PKCS#11 3.0 values pkcs11js (which follows the 2.40 header) does not name:
 * Edwards-curve keys and pure EdDSA (PKCS#11 3.0 §2.3.5, §2.3.6).
 */
export const CKK_EC_EDWARDS = 0x40;
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EDDSA = 0x1057;

/**
 * Loads pkcs11js, the Node binding of the PKCS#11 C API. It is an optional
 * dependency built from source at install (node-gyp: python3, make, a C++
 * compiler), so a machine without a toolchain still installs Rampart; there,
 * choosing the pkcs11 provider stops with this error rather than running
 * without the token.
 */
export function loadPkcs11Binding(modulePath: string): Pkcs11Binding {
  try {
    return createRequire(import.meta.url)('pkcs11js') as Pkcs11Binding;
  } catch (error) {
    throw new Pkcs11ModuleError(
      modulePath,
      'the pkcs11js binding is not installed or did not build (it compiles at install with node-gyp: python3, make and a C++ compiler)',
      { cause: error },
    );
  }
}

/** The PKCS#11 return value a pkcs11js error carries (`CKR_PIN_INCORRECT`…), or undefined for any other error. */
export function returnValueOf(error: unknown): string | undefined {
  return error instanceof Error ? /^CKR_[A-Z0-9_]+/.exec(error.message)?.[0] : undefined;
}

/** A CK_ULONG attribute or handle (native byte order, 8 bytes on the 64-bit platforms Rampart runs on) as a number. */
export function ulongOf(value: Buffer): number {
  return value.length === 8 ? Number(value.readBigUInt64LE(0)) : value.readUIntLE(0, value.length);
}
