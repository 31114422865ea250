import { createHash, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { spkiOf } from './device-id.js';

/** The component an image holds: a fixed boot stage, or an app. */
export type ImageComponent = 'bootloader' | 'security-monitor' | 'os' | `app:${string}`;

/** What an app may use; enforced by the secure OS (see `app-runtime.ts`). */
export interface AppCapabilities {
  /** Hosts the firewall lets the app reach. */
  readonly allowedHosts: readonly string[];
  readonly telemetry: boolean;
  /** Bytes of persistent storage; 0 for none. */
  readonly storageQuotaBytes: number;
  /** May ask the security subsystem to sign for it (device authentication). */
  readonly deviceAuth: boolean;
  /** The app must kick its watchdog at least this often; omitted: no liveness check. */
  readonly watchdogMs?: number;
}

export interface ImageManifest {
  readonly component: ImageComponent;
  readonly version: string;
  /** Anti-rollback: a device refuses images below its fuse counter for the component. */
  readonly securityVersion: number;
  /** Hardware the image is built for. */
  readonly hardware: string;
  /** Apps only: the capabilities the app is granted (signed with the image, so they cannot be widened). */
  readonly capabilities?: AppCapabilities;
}

export interface SignedImage {
  readonly manifest: ImageManifest;
  readonly payload: Buffer;
  /**
   * The signer's public key (DER SubjectPublicKeyInfo). Carried in the image,
   * as real boot ROMs do; a stage trusts it only if its hash is one the
   * fuses (or the verifying stage) hold.
   */
  readonly signerSpki: Buffer;
  readonly signature: Buffer;
}

/**
 * The measurement of an image, and what its signature covers: SHA-256 over
 * the canonical manifest and the payload. Deterministic (ECDSA signatures
 * are not), so an image's measurement is the same on every device.
 */
export function imageDigest(manifest: ImageManifest, payload: Uint8Array): Buffer {
  const header = Buffer.from(JSON.stringify(canonicalManifest(manifest)));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length);
  return createHash('sha256').update(length).update(header).update(payload).digest();
}

/** Digests of images already hashed: a device measures and checks the same image at every boot stage. */
const digests = new WeakMap<SignedImage, Buffer>();

function digestOf(image: SignedImage): Buffer {
  let digest = digests.get(image);
  if (digest === undefined) digests.set(image, (digest = imageDigest(image.manifest, image.payload)));
  return digest;
}

export function measureImage(image: SignedImage): string {
  return digestOf(image).toString('hex');
}

function canonicalManifest(m: ImageManifest): Record<string, unknown> {
  return {
    component: m.component,
    version: m.version,
    securityVersion: m.securityVersion,
    hardware: m.hardware,
    ...(m.capabilities === undefined
      ? {}
      : {
          capabilities: {
            allowedHosts: [...m.capabilities.allowedHosts],
            telemetry: m.capabilities.telemetry,
            storageQuotaBytes: m.capabilities.storageQuotaBytes,
            deviceAuth: m.capabilities.deviceAuth,
            ...(m.capabilities.watchdogMs === undefined ? {} : { watchdogMs: m.capabilities.watchdogMs }),
          },
        }),
  };
}

/** A key's id: SHA-256 (hex) of its SubjectPublicKeyInfo — what fuses hold. */
export function keyIdOf(spki: Uint8Array): string {
  return createHash('sha256').update(spki).digest('hex');
}

export type SignatureCheck = 'valid' | 'unknown-key' | 'bad-signature';

/** Checks an image's signer against the key ids a stage trusts, then the signature. */
export function checkImageSignature(image: SignedImage, trustedKeyIds: ReadonlySet<string>): SignatureCheck {
  if (!trustedKeyIds.has(keyIdOf(image.signerSpki))) return 'unknown-key';
  try {
    const key = createPublicKey({ key: image.signerSpki, format: 'der', type: 'spki' });
    return verify('sha256', digestOf(image), key, image.signature) ? 'valid' : 'bad-signature';
  } catch {
    return 'bad-signature';
  }
}

/** An image signing key (a vendor's or a tenant's): signs images, never hands out its private key. */
export class ImageSigner {
  readonly #privateKey: KeyObject;
  readonly publicKeySpki: Buffer;
  readonly keyId: string;

  private constructor(privateKey: KeyObject) {
    this.#privateKey = privateKey;
    this.publicKeySpki = spkiOf(createPublicKey(privateKey));
    this.keyId = keyIdOf(this.publicKeySpki);
  }

  static create(): ImageSigner {
    return new ImageSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
  }

  static fromPrivateKey(privateKey: KeyObject): ImageSigner {
    return new ImageSigner(privateKey);
  }

  sign(manifest: ImageManifest, payload: Uint8Array): SignedImage {
    const body = Buffer.from(payload);
    const signature = sign('sha256', imageDigest(manifest, body), this.#privateKey);
    return { manifest, payload: body, signerSpki: this.publicKeySpki, signature };
  }
}

const MAGIC = Buffer.from('RIMG');
/** Largest image header (manifest, key id, signature) a device will parse. */
const MAX_HEADER_BYTES = 16 * 1024;

export class ImageFormatError extends Error {
  override readonly name = 'ImageFormatError';
}

/** Flash/transport form: "RIMG", header length, JSON header, payload. */
export function encodeImage(image: SignedImage): Buffer {
  const header = Buffer.from(
    JSON.stringify({
      manifest: canonicalManifest(image.manifest),
      signer: image.signerSpki.toString('base64'),
      signature: image.signature.toString('base64'),
    }),
  );
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length);
  return Buffer.concat([MAGIC, length, header, image.payload]);
}

/**
 * Parses an encoded image; anything malformed is an `ImageFormatError` (never a half-read image).
 * The payload is a view of `bytes`, not a copy (images are megabytes, decoded at every boot): `bytes` must
 * not change afterwards.
 */
export function decodeImage(bytes: Uint8Array): SignedImage {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (data.length < 8 || !data.subarray(0, 4).equals(MAGIC)) throw new ImageFormatError('not a Rampart image');
  const headerLength = data.readUInt32BE(4);
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > data.length)
    throw new ImageFormatError('image header is truncated or too large');
  let header: { manifest?: ImageManifest; signer?: unknown; signature?: unknown };
  try {
    header = JSON.parse(data.subarray(8, 8 + headerLength).toString('utf8')) as typeof header;
  } catch {
    throw new ImageFormatError('image header is not JSON');
  }
  const m = header.manifest;
  if (
    m === undefined ||
    typeof m.component !== 'string' ||
    typeof m.version !== 'string' ||
    !Number.isInteger(m.securityVersion) ||
    typeof m.hardware !== 'string' ||
    typeof header.signer !== 'string' ||
    typeof header.signature !== 'string'
  ) {
    throw new ImageFormatError('image header is incomplete');
  }
  return {
    manifest: m,
    payload: data.subarray(8 + headerLength),
    signerSpki: Buffer.from(header.signer, 'base64'),
    signature: Buffer.from(header.signature, 'base64'),
  };
}
