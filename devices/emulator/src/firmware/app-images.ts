import { fileURLToPath } from 'node:url';
import { signAppDirectory, type ImageSigner, type SignedImage } from '@rampart/trust';

/** `devices/apps/`, from `devices/emulator/{src,dist}/firmware/`. */
export const SAMPLE_APPS_DIR = fileURLToPath(new URL('../../../apps/', import.meta.url));

/** An app directory (`manifest.json` + `main.js`) signed into an image for `hardware`, as `rampart image pack --app-dir` does. */
export function signAppImage(directory: string, signer: ImageSigner, hardware: string): SignedImage {
  return signAppDirectory(directory, signer, hardware);
}

export function sampleAppImage(name: string, signer: ImageSigner, hardware: string): SignedImage {
  return signAppImage(`${SAMPLE_APPS_DIR}${name}`, signer, hardware);
}
