import { createHash } from 'node:crypto';
import { ImageFormatError, checkImageSignature, decodeImage, keyIdOf, measureImage, type ImageManifest } from '@rampart/trust';

/** An uploaded image, checked and described; its bytes stay exactly as uploaded. */
export interface CheckedImage {
  readonly sha256: string;
  readonly size: number;
  readonly manifest: ImageManifest;
  /** What measured boot records for it (the attestation service's known-good entry). */
  readonly measurement: string;
  readonly signerKeyId: string;
  readonly bytes: Buffer;
}

export class ImageRejectedError extends Error {
  override readonly name = 'ImageRejectedError';
}

const COMPONENT = /^(bootloader|security-monitor|os|app:[a-z0-9][a-z0-9-]{0,62})$/;
const VERSION = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/;
const HARDWARE = /^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$/;

/**
 * An upload is hostile until it parses as a Rampart image whose manifest is
 * well-formed and whose signature verifies with the key it carries (a
 * device then checks that key against its fuses). Anything else is refused
 * with the reason, before a byte is stored.
 */
export function checkUpload(bytes: Buffer, maxBytes: number): CheckedImage {
  if (bytes.length === 0) throw new ImageRejectedError('the upload is empty');
  if (bytes.length > maxBytes) throw new ImageRejectedError(`the image is over ${maxBytes} bytes`);
  let image;
  try {
    image = decodeImage(bytes);
  } catch (error) {
    if (error instanceof ImageFormatError) throw new ImageRejectedError(`not a Rampart image: ${error.message}`);
    throw error;
  }
  const { manifest } = image;
  if (!COMPONENT.test(manifest.component)) throw new ImageRejectedError(`unknown component ${JSON.stringify(manifest.component)}`);
  if (!VERSION.test(manifest.version)) throw new ImageRejectedError('the version must be 1-64 letters, digits, ".", "+" or "-"');
  if (!HARDWARE.test(manifest.hardware)) throw new ImageRejectedError('the hardware must be 1-64 letters, digits, ".", "_" or "-"');
  if (!(manifest.securityVersion >= 0 && manifest.securityVersion <= 0xffff)) {
    throw new ImageRejectedError('the security version must be 0-65535');
  }
  const signerKeyId = keyIdOf(image.signerSpki);
  if (checkImageSignature(image, new Set([signerKeyId])) !== 'valid') throw new ImageRejectedError('the image signature does not verify');
  return {
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.length,
    manifest,
    measurement: measureImage(image),
    signerKeyId,
    bytes,
  };
}
