import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals a TPM challenge's nonce for the platform itself (AES-256-GCM under a key every attestation replica derives
 * from the shared secret), bound to the device, its AK and its EK as associated data. The device carries it from the
 * challenge to the evidence; it learns nothing from it, and a challenge moved to another device, AK or EK does not
 * open. Freshness, single use and the device binding stay the nonce's (see SealedNonceStore).
 */
export class ChallengeSeal {
  private readonly key: Buffer;

  constructor(secret: Uint8Array) {
    this.key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'rampart tpm2 challenge v1', 32));
  }

  seal(nonce: Buffer, binding: readonly Buffer[]): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(associated(binding));
    const sealed = Buffer.concat([cipher.update(nonce), cipher.final()]);
    return Buffer.concat([iv, sealed, cipher.getAuthTag()]);
  }

  /** The nonce, or undefined when the challenge was not sealed by us for this binding. */
  open(challenge: Buffer, binding: readonly Buffer[]): Buffer | undefined {
    if (challenge.length <= IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, challenge.subarray(0, IV_BYTES));
      decipher.setAAD(associated(binding));
      decipher.setAuthTag(challenge.subarray(challenge.length - TAG_BYTES));
      return Buffer.concat([decipher.update(challenge.subarray(IV_BYTES, challenge.length - TAG_BYTES)), decipher.final()]);
    } catch {
      return undefined;
    }
  }
}

/** Length-prefixed parts, so no two bindings share an encoding. */
function associated(parts: readonly Buffer[]): Buffer {
  return Buffer.concat(
    parts.flatMap((part) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(part.length);
      return [length, part];
    }),
  );
}
