import type { BootMeasurement } from '@rampart/contracts';
import { keyIdOf } from '@rampart/trust';
import { demoFirmware, firmwareMeasurements } from '../firmware/firmware.js';
import type { BootState } from '../mcu/attestation-evidence.js';

/**
 * The boot state a device running the demo firmware reports: what its
 * secure boot measures. Measurements depend on image content only, so this
 * is the same in every process.
 */
export function demoBootState(): BootState {
  const firmware = demoFirmware();
  const images = [firmware.bootloader, firmware.securityMonitor, firmware.os, ...firmware.apps];
  return {
    bootLog: firmwareMeasurements(firmware).map(({ stage, sha256 }) => ({ stage, sha256 })),
    signers: Object.fromEntries(images.map((i) => [i.manifest.component, keyIdOf(i.signerSpki)])),
    securityVersions: Object.fromEntries(images.map((i) => [i.manifest.component, i.manifest.securityVersion])),
    versions: {
      os: firmware.os.manifest.version,
      apps: Object.fromEntries(firmware.apps.map((a) => [a.manifest.component.slice('app:'.length), a.manifest.version])),
    },
  };
}

/** Every sample app (`devices/apps/`), so a demo can install any of them. */
const SAMPLE_APPS = ['sensor', 'sensor-1.1', 'net-probe'];

/** Known-good entries for the demo firmware and every sample app version, with their versions. */
export function demoKnownGood(): Array<BootMeasurement & { imageVersion: string }> {
  return firmwareMeasurements(demoFirmware(undefined, SAMPLE_APPS));
}
