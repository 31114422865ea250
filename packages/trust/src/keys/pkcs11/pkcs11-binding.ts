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

/** A PKCS#11 return value: the number the token answered and its name (`CKR_PIN_INCORRECT`), for messages. */
export interface ReturnValue {
  readonly code: number;
  readonly name: string;
}

/** Each binding's CKR_* constants by value, to name a return value without reading it out of a message. */
const returnValueNames = new WeakMap<Pkcs11Binding, ReadonlyMap<number, string>>();

function nameOf(binding: Pkcs11Binding, code: number): string {
  let names = returnValueNames.get(binding);
  if (names === undefined) {
    const byCode = new Map<number, string>();
    for (const [name, value] of Object.entries(binding)) {
      // Aliases (a deprecated name and its successor share a value) keep the first name the binding lists.
      if (name.startsWith('CKR_') && typeof value === 'number' && !byCode.has(value)) byCode.set(value, name);
    }
    names = byCode;
    returnValueNames.set(binding, names);
  }
  // A vendor-defined value has no name in the standard: shown as PKCS#11 writes it.
  return names.get(code) ?? `CKR 0x${code.toString(16).padStart(8, '0')}`;
}

/**
 * The return value a failed call carries when the token answered it (pkcs11js's `Pkcs11Error`, whose `code` is
 * the CK_RV), or undefined for any other failure: a binding error (`NativeError`: bad arguments, the module
 * not loaded) or anything else that is not the token's answer.
 */
export function returnValueOf(error: unknown, binding: Pkcs11Binding): ReturnValue | undefined {
  if (!(error instanceof binding.Pkcs11Error)) return undefined;
  return { code: error.code, name: nameOf(binding, error.code) };
}

/** A CK_ULONG attribute or handle (native byte order, 8 bytes on the 64-bit platforms Rampart runs on) as a number. */
export function ulongOf(value: Buffer): number {
  return value.length === 8 ? Number(value.readBigUInt64LE(0)) : value.readUIntLE(0, value.length);
}
