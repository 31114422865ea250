import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { encodeImage, type ImageComponent, type ImageManifest, type ImageSigner, type SignedImage } from '../signed-image.js';
import {
  ImageManifestError,
  appCapabilitiesSchema,
  canonicalCapabilities,
  checkImageManifest,
  imageComponentSchema,
  imageVersionSchema,
  problemsOf,
  securityVersionSchema,
} from './image-manifest.js';

/** An app directory's `manifest.json`: everything but the hardware, which the build chooses. */
const appManifestFileSchema = z.strictObject({
  component: imageComponentSchema.refine((c) => c.startsWith('app:'), { error: 'an app directory holds an app: app:<name>' }),
  version: imageVersionSchema,
  securityVersion: securityVersionSchema,
  capabilities: appCapabilitiesSchema,
});

/** The two files of an app directory: `manifest.json` (component, version, security version, capabilities) and `main.js`. */
export const APP_MANIFEST_FILE = 'manifest.json';
export const APP_MAIN_FILE = 'main.js';

export interface AppDirectory {
  readonly manifest: Omit<ImageManifest, 'hardware'>;
  readonly payload: Buffer;
}

/**
 * Reads an app directory as the emulator's sample apps are laid out. Sync:
 * two small files, read where images are signed at start-up.
 */
export function readAppDirectory(directory: string): AppDirectory {
  const manifestFile = join(directory, APP_MANIFEST_FILE);
  const text = readOrExplain(manifestFile, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ImageManifestError([`${manifestFile}: not JSON (${(error as Error).message})`], { cause: error });
  }
  const parsed = appManifestFileSchema.safeParse(json);
  if (!parsed.success) throw new ImageManifestError(problemsOf(parsed.error, `${manifestFile}: `));
  const { capabilities, ...fields } = parsed.data;
  return {
    manifest: { ...fields, capabilities: canonicalCapabilities(capabilities) },
    payload: readOrExplain(join(directory, APP_MAIN_FILE)),
  };
}

function readOrExplain(path: string): Buffer;
function readOrExplain(path: string, encoding: 'utf8'): string;
function readOrExplain(path: string, encoding?: 'utf8'): Buffer | string {
  try {
    return encoding === undefined ? readFileSync(path) : readFileSync(path, encoding);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ImageManifestError([`cannot read ${path} (${code ?? String(error)})`], { cause: error });
  }
}

/** An app directory signed into an image for `hardware`. */
export function signAppDirectory(directory: string, signer: ImageSigner, hardware: string): SignedImage {
  const app = readAppDirectory(directory);
  return signer.sign(checkImageManifest({ ...app.manifest, hardware }), app.payload);
}

export interface PackOptions {
  /** Required with `payloadFile`; with `appDir` taken from its manifest.json (and, if given, must match it). */
  readonly component?: string | undefined;
  readonly version?: string | undefined;
  readonly securityVersion?: number | undefined;
  readonly hardware: string;
  readonly signer: ImageSigner;
  /** Exactly one: a payload file (an OS, bootloader, security monitor or app binary), or an app directory. */
  readonly payloadFile?: string | undefined;
  readonly appDir?: string | undefined;
}

/** Builds and signs an image; every bad input is named in one `ImageManifestError` before anything is signed. */
export async function packImage(options: PackOptions): Promise<SignedImage> {
  if ((options.payloadFile === undefined) === (options.appDir === undefined)) {
    throw new ImageManifestError(['give exactly one of a payload file (--payload FILE) or an app directory (--app-dir DIR)']);
  }
  if (options.appDir !== undefined) {
    const app = readAppDirectory(options.appDir);
    const mismatches = (['component', 'version', 'securityVersion'] as const)
      .filter((field) => options[field] !== undefined && options[field] !== app.manifest[field])
      .map(
        (field) =>
          `${field}: ${JSON.stringify(options[field])} was given, but ${join(options.appDir!, APP_MANIFEST_FILE)} says ${JSON.stringify(app.manifest[field])}`,
      );
    if (mismatches.length > 0) throw new ImageManifestError(mismatches);
    return options.signer.sign(checkImageManifest({ ...app.manifest, hardware: options.hardware }), app.payload);
  }
  const manifest = checkImageManifest({
    component: options.component as ImageComponent | undefined,
    version: options.version,
    securityVersion: options.securityVersion,
    hardware: options.hardware,
  });
  let payload: Buffer;
  try {
    payload = await readFile(options.payloadFile!);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ImageManifestError([`cannot read the payload ${options.payloadFile!} (${code ?? String(error)})`], { cause: error });
  }
  return options.signer.sign(manifest, payload);
}

/**
 * Writes an image as a `.rimg` file (the form `POST /v1/images` takes).
 * Written beside the target and renamed, so a reader never sees half an image.
 */
export async function writeImageFile(path: string, image: SignedImage): Promise<{ readonly sha256: string; readonly size: number }> {
  const bytes = encodeImage(image);
  const partial = `${path}.${process.pid}.partial`;
  await writeFile(partial, bytes);
  await rename(partial, path);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
}
