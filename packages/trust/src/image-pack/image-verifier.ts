import { createHash } from 'node:crypto';
import {
  ImageFormatError,
  checkImageSignature,
  decodeImage,
  keyIdOf,
  measureImage,
  type ImageManifest,
  type SignatureCheck,
} from '../signed-image.js';
import { ImageManifestError, checkImageManifest } from './image-manifest.js';

export interface VerifyOptions {
  /** The key the image must be signed with (DER SPKI); without it only the key the image carries is checked. */
  readonly publicKeySpki?: Uint8Array | undefined;
  /** A known-good measurement (hex) the image must have, e.g. the one released for its stage. */
  readonly measurement?: string | undefined;
}

/** What a `.rimg` file holds and whether it verifies; `problems` is empty exactly when `verified`. */
export interface ImageVerification {
  readonly verified: boolean;
  readonly problems: readonly string[];
  /** Absent when the file is not a Rampart image at all. */
  readonly image?: {
    readonly manifest: ImageManifest;
    /** SHA-256 over the canonical manifest and the payload: what measured boot records, and what the signature covers. */
    readonly measurement: string;
    /** The key id the image claims (SHA-256 of the SPKI it carries), what a device compares with its fuses. */
    readonly signerKeyId: string;
    /** Whether the signature verifies with the carried key. */
    readonly signature: SignatureCheck;
    /** SHA-256 of the whole file: the id the updates service gives the image. */
    readonly sha256: string;
    readonly size: number;
    readonly payloadBytes: number;
  };
}

/**
 * Checks an encoded image as a device would before installing it: it parses,
 * its manifest keeps the rules, its signature verifies, and (when given) the
 * signer is the expected key and the measurement the expected one.
 */
export function verifyImage(bytes: Uint8Array, options: VerifyOptions = {}): ImageVerification {
  let image;
  try {
    image = decodeImage(bytes);
  } catch (error) {
    if (error instanceof ImageFormatError) return { verified: false, problems: [`not a Rampart image: ${error.message}`] };
    throw error;
  }
  const problems: string[] = [];
  try {
    checkImageManifest(image.manifest);
  } catch (error) {
    if (!(error instanceof ImageManifestError)) throw error;
    problems.push(...error.problems.map((p) => `manifest: ${p}`));
  }
  const signerKeyId = keyIdOf(image.signerSpki);
  const signature = checkImageSignature(image, new Set([signerKeyId]));
  if (signature !== 'valid') problems.push('the signature does not verify: the manifest, the payload or the signature was changed');
  if (options.publicKeySpki !== undefined) {
    const expected = keyIdOf(options.publicKeySpki);
    if (expected !== signerKeyId) problems.push(`signed by key ${signerKeyId}, not by the given key ${expected}`);
  }
  const measurement = measureImage(image);
  if (options.measurement !== undefined && options.measurement.toLowerCase() !== measurement) {
    problems.push(`the measurement is ${measurement}, not the expected ${options.measurement}`);
  }
  return {
    verified: problems.length === 0,
    problems,
    image: {
      manifest: image.manifest,
      measurement,
      signerKeyId,
      signature,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      size: bytes.byteLength,
      payloadBytes: image.payload.length,
    },
  };
}
