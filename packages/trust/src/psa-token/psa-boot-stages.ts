import { BootStageSchema, FIXED_BOOT_STAGES, type BootMeasurement } from '@rampart/contracts';
import type { PsaSoftwareComponent } from './psa-claims.js';

/*
 * How Rampart's measured boot maps onto a PSA attestation token (RFC 9783), in both directions: the device writes
 * its boot log as claims (`psaBootClaims`), the verifier reads the claims back as a boot log (`bootLogOfPsaClaims`).
 * The first stage, the ROM, is the immutable PSA RoT: its measurement is the token's implementation id,
 * not a software component. Every later stage is one software component whose measurement type is the
 * stage's name (bootloader, security-monitor, os, app:<name>), whose version is the image version (the OS and apps
 * carry one), and whose signer id is the key id of the key its image verified with.
 */

/** The stage that is the PSA RoT: the token's implementation id. */
export const PSA_ROT_STAGE = FIXED_BOOT_STAGES[0];
const APP_PREFIX = 'app:';
/** The policy's measurements are SHA-256: a component measured with another hash cannot match a known-good entry. */
const SHA256_BYTES = 32;

/** What a device knows of its boot: what secure boot measured, who signed each stage, and the image versions. */
export interface PsaBootSource {
  readonly bootLog: readonly BootMeasurement[];
  /** Each measured stage's signer key id (hex SHA-256 of its SPKI). */
  readonly signers: Readonly<Record<string, string>>;
  readonly versions: { readonly os: string; readonly apps: Readonly<Record<string, string>> };
}

/** Thrown when a boot state cannot be written as a truthful token (the ROM or a stage's signer is missing). */
export class PsaBootStateError extends Error {
  override readonly name = 'PsaBootStateError';
}

function versionOf(stage: string, versions: PsaBootSource['versions']): string | undefined {
  const version = stage === 'os' ? versions.os : stage.startsWith(APP_PREFIX) ? versions.apps[stage.slice(APP_PREFIX.length)] : undefined;
  return version === undefined || version === '' ? undefined : version;
}

/**
 * The implementation id and software components for a boot. Throws rather than fill a gap: a zero implementation id
 * or a zero signer id would be a claim the device cannot back, and the verifier would read it as a measurement.
 */
export function psaBootClaims(boot: PsaBootSource): { implementationId: Uint8Array; softwareComponents: PsaSoftwareComponent[] } {
  const rom = boot.bootLog.find((m) => m.stage === PSA_ROT_STAGE);
  if (rom === undefined) throw new PsaBootStateError(`the boot log has no ${PSA_ROT_STAGE} measurement (the implementation id)`);
  const softwareComponents = boot.bootLog
    .filter((m) => m.stage !== PSA_ROT_STAGE)
    .map((m): PsaSoftwareComponent => {
      const signer = boot.signers[m.stage];
      if (signer === undefined) throw new PsaBootStateError(`stage ${m.stage} has no signer`);
      const version = versionOf(m.stage, boot.versions);
      return {
        measurementType: m.stage,
        measurementValue: Buffer.from(m.sha256, 'hex'),
        ...(version === undefined ? {} : { version }),
        signerId: Buffer.from(signer, 'hex'),
      };
    });
  return { implementationId: Buffer.from(rom.sha256, 'hex'), softwareComponents };
}

export type PsaBootReading =
  | { readonly ok: true; readonly bootLog: BootMeasurement[]; readonly versions: { os: string; apps: Record<string, string> } }
  | { readonly ok: false; readonly detail: string };

/**
 * The boot log and versions a token's claims describe: the implementation id as the ROM, then each component as the
 * stage its measurement type names. Refused (with the component named): a measurement type that is no boot stage or
 * names the ROM, and a measurement value that is not 32 bytes (RFC 9783 allows 48 and 64; Rampart's known-good list
 * is SHA-256, and a longer value must not be stored as one).
 */
export function bootLogOfPsaClaims(implementationId: Uint8Array, components: readonly PsaSoftwareComponent[]): PsaBootReading {
  const bootLog: BootMeasurement[] = [{ stage: PSA_ROT_STAGE, sha256: Buffer.from(implementationId).toString('hex') }];
  const apps: Record<string, string> = {};
  let os = '';
  for (const [i, component] of components.entries()) {
    const stage = BootStageSchema.safeParse(component.measurementType);
    if (!stage.success || stage.data === PSA_ROT_STAGE) {
      return { ok: false, detail: `psa-software-components[${i}].measurement-type: ${String(component.measurementType)} is no boot stage` };
    }
    if (component.measurementValue.length !== SHA256_BYTES) {
      return {
        ok: false,
        detail: `psa-software-components[${i}].measurement-value: must be a SHA-256 (32 bytes, is ${component.measurementValue.length})`,
      };
    }
    bootLog.push({ stage: stage.data, sha256: Buffer.from(component.measurementValue).toString('hex') });
    if (stage.data === 'os') os = component.version ?? '';
    else if (stage.data.startsWith(APP_PREFIX)) apps[stage.data.slice(APP_PREFIX.length)] = component.version ?? '';
  }
  return { ok: true, bootLog, versions: { os, apps } };
}
