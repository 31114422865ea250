import type { BootMeasurement } from '@rampart/contracts';
import { measure, type BootState } from './attestation-evidence.js';

/**
 * The image set emulated devices boot by default. Their measurements are
 * what an operator (or, later, the updates service) registers as known-good.
 */
const IMAGES: ReadonlyArray<{ stage: BootMeasurement['stage']; name: string; version: string }> = [
  { stage: 'rom', name: 'rampart-emulated-rom', version: '1' },
  { stage: 'bootloader', name: 'rampart-emulated-bootloader', version: '1.0.0' },
  { stage: 'security-monitor', name: 'rampart-emulated-security-monitor', version: '1.0.0' },
  { stage: 'os', name: 'rampart-emulated-os', version: '1.0.0' },
  { stage: 'app:sensor', name: 'rampart-sample-sensor', version: '1.0.0' },
];

export function demoBootState(): BootState {
  return {
    bootLog: IMAGES.map((image) => ({ stage: image.stage, sha256: measure(Buffer.from(`${image.name}@${image.version}`)) })),
    securityVersions: { bootloader: 1, os: 1 },
    versions: { os: '1.0.0', apps: { sensor: '1.0.0' } },
  };
}

/** Known-good entries for the demo image set, with their versions. */
export function demoKnownGood(): Array<BootMeasurement & { imageVersion: string }> {
  const boot = demoBootState();
  return boot.bootLog.map((m, i) => ({ ...m, imageVersion: IMAGES[i]?.version ?? '' }));
}
