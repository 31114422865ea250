import { join } from 'node:path';
import type { FirmwareSigners } from '@rampart/emulator';
import { loadImageSigner, loadOrCreateImageSigner, type SigningKeyFiles } from '@rampart/trust';

/** Under the data folder: the emulated device maker's firmware signing keys (`platform.key`, `apps.key`, each with its `.pub`). */
export const FIRMWARE_SIGNING_DIR = 'signing';

export interface FirmwareSigning {
  readonly signers: FirmwareSigners;
  readonly dir: string;
  /** Signs the bootloader, the security monitor and the OS: `rampart image pack --key <dir>/platform.key`. */
  readonly platform: SigningKeyFiles;
  /** Signs apps. */
  readonly apps: SigningKeyFiles;
}

/**
 * The demo fleet's firmware keys, made on the first start and read at every
 * later one: devices are fused to trust them, so an image the operator packs
 * with them (`rampart image pack --key`) updates the demo fleet, across restarts.
 */
export async function loadOrCreateFirmwareSigning(dataDir: string): Promise<FirmwareSigning> {
  const dir = join(dataDir, FIRMWARE_SIGNING_DIR);
  const platform = await loadOrCreateImageSigner(dir, 'platform');
  const apps = await loadOrCreateImageSigner(dir, 'apps');
  return { signers: { platform: platform.signer, apps: apps.signer }, dir, platform: platform.files, apps: apps.files };
}

/** Keys mounted from elsewhere (the fleet pod's FIRMWARE_*_KEY_FILE). */
export async function loadFirmwareSigners(platformKeyFile: string, appsKeyFile: string): Promise<FirmwareSigners> {
  return { platform: await loadImageSigner(platformKeyFile), apps: await loadImageSigner(appsKeyFile) };
}
