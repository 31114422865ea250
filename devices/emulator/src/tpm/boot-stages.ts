import { measureImage } from '@rampart/trust';
import type { Firmware } from '../firmware/firmware.js';
import { ROM_MEASUREMENT, type BootResult } from '../mcu/secure-boot.js';
import type { MeasuredStage } from './measured-boot.js';

/** The ROM's version in a measured-boot event: mask ROM is never updated, so it has one version. */
const ROM_VERSION = '1';

/**
 * The stages a TPM's measured boot extends, in boot order: each measurement with the stage's version and security
 * version (the ROM's are fixed). The one derivation behind `bootStages` and `firmwareStages`.
 */
function measuredStages(
  measured: ReadonlyArray<{ readonly stage: string; readonly sha256: string }>,
  versions: Readonly<Record<string, string>>,
  securityVersions: Readonly<Record<string, number>>,
): MeasuredStage[] {
  return measured.map(({ stage, sha256 }) => ({
    stage,
    sha256,
    version: stage === 'rom' ? ROM_VERSION : (versions[stage] ?? ''),
    securityVersion: stage === 'rom' ? 0 : (securityVersions[stage] ?? 0),
  }));
}

/** What secure boot measured, as the stages a TPM's measured boot extends. */
export function bootStages(boot: BootResult): MeasuredStage[] {
  return measuredStages(boot.bootLog, boot.stageVersions, boot.securityVersions);
}

/** The stages a Linux-class device boots from a firmware release (every image verifies): as `bootStages` of that boot. */
export function firmwareStages(firmware: Firmware): MeasuredStage[] {
  const images = [firmware.bootloader, firmware.securityMonitor, firmware.os, ...firmware.apps];
  return measuredStages(
    [
      { stage: 'rom', sha256: ROM_MEASUREMENT },
      ...images.map((image) => ({ stage: image.manifest.component, sha256: measureImage(image) })),
    ],
    Object.fromEntries(images.map((image) => [image.manifest.component, image.manifest.version])),
    Object.fromEntries(images.map((image) => [image.manifest.component, image.manifest.securityVersion])),
  );
}
