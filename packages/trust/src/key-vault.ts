import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals private keys (tenant CAs, update signing keys) at rest with AES-256-GCM under a
 * key-encryption key that comes from the environment (a mounted secret),
 * never from the database. The owner (a tenant id) is bound as associated data, so a
 * sealed key copied to another tenant's row does not open.
 */
export class KeyVault {
  constructor(private readonly keyEncryptionKey: Buffer) {
    if (keyEncryptionKey.length !== 32) throw new RangeError('the key-encryption key must be 32 bytes');
  }

  seal(plaintext: string, tenantId: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keyEncryptionKey, iv);
    cipher.setAAD(Buffer.from(tenantId));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  open(sealed: Buffer, tenantId: string): string {
    const decipher = createDecipheriv('aes-256-gcm', this.keyEncryptionKey, sealed.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(tenantId));
    decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  }
}
