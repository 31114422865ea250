import { createHash } from 'node:crypto';
import {
  ImageFormatError,
  ImageManifestError,
  checkImageManifest,
  checkImageSignature,
  decodeImage,
  keyIdOf,
  measureImage,
  type ImageManifest,
} from '@rampart/trust';
import { ErrorCode } from '@rampart/contracts';
import { DomainError } from '@rampart/service-kit';

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

export class ImageRejectedError extends DomainError {
  override readonly name = 'ImageRejectedError';
  readonly code = ErrorCode.imageRejected;
}

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
  // The same rules `rampart image pack` applies, so a packed image is never refused here for its manifest.
  let manifest: ImageManifest;
  try {
    manifest = checkImageManifest(image.manifest);
  } catch (error) {
    if (error instanceof ImageManifestError) throw new ImageRejectedError(`the manifest is refused: ${error.message}`);
    throw error;
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
