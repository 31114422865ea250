// No imports: the CLI loads this alone (`@rampart/contracts/identity`), without the schemas' zod.

/**
 * A device id is the lowercase hex SHA-256 of the device public key's
 * SubjectPublicKeyInfo (DER). It is derived, never assigned, so it cannot
 * change for the life of the key and a device cannot choose another's id.
 */
export const DEVICE_ID_PATTERN = /^[0-9a-f]{64}$/;

/** A tenant id: lowercase letters, digits and hyphens, 2–63 characters, starting with a letter or digit. */
export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{1,62}$/;

export function isDeviceId(value: string): boolean {
  return DEVICE_ID_PATTERN.test(value);
}
