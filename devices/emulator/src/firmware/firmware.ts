import type { BootMeasurement } from '@rampart/contracts';
import type { Flash } from '../mcu/flash.js';
import type { Fuses } from '../mcu/fuses.js';
import { ImageSigner, measureImage, type ImageComponent, type SignedImage } from '@rampart/trust';
import { APP_KEY_FUSE, HARDWARE_FUSE, PLATFORM_KEY_FUSE, ROM_MEASUREMENT } from '../mcu/secure-boot.js';
import { sampleAppImage } from './app-images.js';

export const DEMO_HARDWARE = 'rampart-emu-1';

/** What a factory puts on a device: fuse values and the first image of every component. */
export interface Firmware {
  readonly hardware: string;
  /** Key id (SHA-256 of the SPKI) the ROM and bootloader trust. */
  readonly platformKeyId: string;
  /** Key id the OS trusts for apps. */
  readonly appKeyId: string;
  readonly bootloader: SignedImage;
  readonly securityMonitor: SignedImage;
  readonly os: SignedImage;
  readonly apps: readonly SignedImage[];
}

/** Burns the fuses and writes every image into slot A (the factory step after the key is made). */
export function flashFirmware(fuses: Fuses, flash: Flash, firmware: Firmware): void {
  fuses.burn(HARDWARE_FUSE, firmware.hardware);
  fuses.burn(PLATFORM_KEY_FUSE, firmware.platformKeyId);
  fuses.burn(APP_KEY_FUSE, firmware.appKeyId);
  flash.write('bootloader', undefined, firmware.bootloader);
  flash.write('security-monitor', undefined, firmware.securityMonitor);
  flash.write('os', 'a', firmware.os);
  const apps: Record<string, { active: 'a' }> = {};
  for (const app of firmware.apps) {
    flash.write(app.manifest.component, 'a', app);
    apps[app.manifest.component.slice('app:'.length)] = { active: 'a' };
  }
  flash.bootControl = { os: { active: 'a' }, apps };
  // The factory sets each anti-rollback counter to the version it ships.
  for (const image of [firmware.bootloader, firmware.securityMonitor, firmware.os, ...firmware.apps]) {
    fuses.advance(image.manifest.component, image.manifest.securityVersion);
  }
}

/** The vendor's signing keys for the demo firmware; one pair per process. */
export interface FirmwareSigners {
  readonly platform: ImageSigner;
  readonly apps: ImageSigner;
}

let demoSigners: FirmwareSigners | undefined;

export function demoFirmwareSigners(): FirmwareSigners {
  demoSigners ??= { platform: ImageSigner.create(), apps: ImageSigner.create() };
  return demoSigners;
}

function systemImage(signer: ImageSigner, component: ImageComponent, version: string, securityVersion: number, hardware: string) {
  return signer.sign({ component, version, securityVersion, hardware }, Buffer.from(`rampart emulated ${component} ${version}`));
}

/** A firmware release of the platform images, signed by `signers.platform`. */
export function platformImage(
  component: 'bootloader' | 'security-monitor' | 'os',
  version: string,
  securityVersion: number,
  signers: FirmwareSigners = demoFirmwareSigners(),
  hardware = DEMO_HARDWARE,
): SignedImage {
  return systemImage(signers.platform, component, version, securityVersion, hardware);
}

/**
 * The demo firmware: bootloader, security monitor and OS 1.0.0 (security
 * version 1) and the sample sensor app. Measurements do not depend on the
 * signing key, so they are the same in every process.
 */
/** Demo firmware by app list, signed by the process's demo signers (signing once per fleet, not per device). */
const demoCache = new Map<string, Firmware>();

export function demoFirmware(signers?: FirmwareSigners, apps: readonly string[] = ['sensor']): Firmware {
  if (signers !== undefined) return makeDemoFirmware(signers, apps);
  const key = apps.join(',');
  let made = demoCache.get(key);
  if (made === undefined) {
    made = makeDemoFirmware(demoFirmwareSigners(), apps);
    demoCache.set(key, made);
  }
  return made;
}

function makeDemoFirmware(signers: FirmwareSigners, apps: readonly string[]): Firmware {
  return {
    hardware: DEMO_HARDWARE,
    platformKeyId: signers.platform.keyId,
    appKeyId: signers.apps.keyId,
    bootloader: platformImage('bootloader', '1.0.0', 1, signers),
    securityMonitor: platformImage('security-monitor', '1.0.0', 1, signers),
    os: platformImage('os', '1.0.0', 1, signers),
    apps: apps.map((name) => sampleAppImage(name, signers.apps, DEMO_HARDWARE)),
  };
}

/** Known-good measurements of a firmware, as an operator (or the updates service) registers them. */
export function firmwareMeasurements(firmware: Firmware): Array<BootMeasurement & { imageVersion: string }> {
  return [
    { stage: 'rom', sha256: ROM_MEASUREMENT, imageVersion: '1' },
    ...[firmware.bootloader, firmware.securityMonitor, firmware.os, ...firmware.apps].map((image) => ({
      stage: image.manifest.component,
      sha256: measureImage(image),
      imageVersion: image.manifest.version,
    })),
  ];
}
