import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AppCapabilities, ImageManifest, ImageSigner, SignedImage } from '@rampart/trust';

/** `devices/apps/`, from `devices/emulator/{src,dist}/firmware/`. */
export const SAMPLE_APPS_DIR = fileURLToPath(new URL('../../../apps/', import.meta.url));

interface AppManifestFile {
  readonly component: `app:${string}`;
  readonly version: string;
  readonly securityVersion: number;
  readonly capabilities: AppCapabilities;
}

/** An app directory (`manifest.json` + `main.js`) signed into an image for `hardware`. */
export function signAppImage(directory: string, signer: ImageSigner, hardware: string): SignedImage {
  const file = JSON.parse(readFileSync(`${directory}/manifest.json`, 'utf8')) as AppManifestFile;
  if (!/^app:[a-z0-9][a-z0-9-]{0,62}$/.test(file.component)) throw new Error(`${directory}: component must be app:<name>`);
  const manifest: ImageManifest = {
    component: file.component,
    version: file.version,
    securityVersion: file.securityVersion,
    hardware,
    capabilities: file.capabilities,
  };
  return signer.sign(manifest, readFileSync(`${directory}/main.js`));
}

export function sampleAppImage(name: string, signer: ImageSigner, hardware: string): SignedImage {
  return signAppImage(`${SAMPLE_APPS_DIR}${name}`, signer, hardware);
}
