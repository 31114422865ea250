import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;

export class UnsealError extends Error {
  override readonly name = 'UnsealError';
}

/**
 * Data only this device can read back: AES-256-GCM under a key derived
 * from the device's hardware-unique secret and a label, so a blob sealed
 * for one purpose (or on another device) does not open for another.
 */
export class SealedStorage {
  readonly #secret: Buffer;

  constructor(hardwareUniqueSecret: Uint8Array) {
    this.#secret = Buffer.from(hardwareUniqueSecret);
  }

  seal(label: string, data: Uint8Array): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key(label), iv);
    cipher.setAAD(Buffer.from(label));
    const body = Buffer.concat([cipher.update(data), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  unseal(label: string, sealed: Uint8Array): Buffer {
    const bytes = Buffer.from(sealed);
    if (bytes.length < IV_BYTES + TAG_BYTES) throw new UnsealError('sealed data is truncated');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key(label), bytes.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(label));
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch {
      throw new UnsealError(`sealed data for ${label} does not open on this device (tampered, or sealed elsewhere)`);
    }
  }

  private key(label: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.#secret, Buffer.alloc(0), `rampart sealed storage: ${label}`, 32));
  }
}
