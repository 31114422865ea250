import { createHash } from 'node:crypto';
import type { BootMeasurement } from '@rampart/contracts';
import type { Flash, Slot } from './flash.js';
import { checkImageSignature, keyIdOf, measureImage, type ImageComponent, type SignedImage } from '@rampart/trust';
import type { Fuses } from './fuses.js';

/** The mask ROM: immutable, so it is measured, not verified. */
export const ROM_CODE = Buffer.from('rampart-emulated-rom@1');
export const ROM_MEASUREMENT = createHash('sha256').update(ROM_CODE).digest('hex');

/** Fuses burned at manufacture: the key ids each stage trusts. */
export const PLATFORM_KEY_FUSE = 'key.platform';
export const APP_KEY_FUSE = 'key.apps';
/** The hardware model, burned at manufacture; images for other hardware are refused. */
export const HARDWARE_FUSE = 'hardware';

export type BootFailureReason =
  'missing' | 'malformed' | 'unknown-key' | 'bad-signature' | 'wrong-component' | 'wrong-hardware' | 'rollback';

export interface StageFailure {
  readonly stage: ImageComponent;
  readonly slot?: Slot;
  readonly reason: BootFailureReason;
  readonly detail: string;
}

/**
 * What booted. `normal`: every stage verified up to the OS. `recovery`: a
 * stage before the OS, or both OS slots, failed — the device can still
 * reach the platform on its manufacturer identity to report and be
 * recovered, and its boot log says where the chain broke.
 */
export interface BootResult {
  readonly mode: 'normal' | 'recovery';
  readonly bootLog: readonly BootMeasurement[];
  /** Each measured stage's signer: the key id (SHA-256 of the SPKI) of the key its image verified with. */
  readonly signers: Readonly<Record<string, string>>;
  readonly securityVersions: Readonly<Record<string, number>>;
  /** Each measured stage's image version (what a TPM's event log names beside its measurement). */
  readonly stageVersions: Readonly<Record<string, string>>;
  readonly versions: { readonly os: string; readonly apps: Readonly<Record<string, string>> };
  readonly osSlot: Slot | undefined;
  /** The app images that verified and may run, with the slot each came from. */
  readonly apps: ReadonlyArray<{ readonly image: SignedImage; readonly slot: Slot }>;
  /** Every refusal on the way, including a trial slot abandoned and apps refused. */
  readonly failures: readonly StageFailure[];
}

/**
 * One stage verifying the next: present and well-formed, signed by a key
 * this stage trusts, the component it should be, for this hardware, and
 * not below the anti-rollback counter in the fuses.
 */
export function verifyStage(
  flash: Flash,
  fuses: Fuses,
  component: ImageComponent,
  slot: Slot | undefined,
  trustedKeyIds: ReadonlySet<string>,
): { image: SignedImage } | StageFailure {
  const read = flash.read(component, slot);
  const at = slot === undefined ? {} : { slot };
  if ('missing' in read) return { stage: component, ...at, reason: 'missing', detail: 'slot is empty' };
  if ('malformed' in read) return { stage: component, ...at, reason: 'malformed', detail: read.malformed };
  return checkImage(read.image, fuses, component, trustedKeyIds, at);
}

/** The checks of `verifyStage` on an image in hand (the update agent uses them before installing). */
export function checkImage(
  image: SignedImage,
  fuses: Fuses,
  component: ImageComponent,
  trustedKeyIds: ReadonlySet<string>,
  at: { slot?: Slot } = {},
): { image: SignedImage } | StageFailure {
  const signature = checkImageSignature(image, trustedKeyIds);
  if (signature !== 'valid') return { stage: component, ...at, reason: signature, detail: `image signature: ${signature}` };
  if (image.manifest.component !== component) {
    return { stage: component, ...at, reason: 'wrong-component', detail: `image is for ${image.manifest.component}` };
  }
  const hardware = fuses.burned(HARDWARE_FUSE);
  if (image.manifest.hardware !== hardware) {
    return {
      stage: component,
      ...at,
      reason: 'wrong-hardware',
      detail: `image is for ${image.manifest.hardware}, device is ${hardware ?? '?'}`,
    };
  }
  const floor = fuses.counter(component);
  if (image.manifest.securityVersion < floor) {
    return { stage: component, ...at, reason: 'rollback', detail: `security version ${image.manifest.securityVersion} is below ${floor}` };
  }
  return { image };
}

export function trustedKeys(fuses: Fuses, fuse: string): ReadonlySet<string> {
  const id = fuses.burned(fuse);
  return new Set(id === undefined ? [] : [id]);
}

/**
 * The slots to try for an A/B component, in order: a trial slot first while
 * it has tries left (spending one now, before anything runs, so a slot that
 * hangs or loses power is not tried for ever), then the active slot. An app
 * on its first install has no active slot: none once its try is spent.
 */
function bootCandidates(flash: Flash, component: ImageComponent): Slot[] {
  const control = flash.slotControl(component);
  const active = control.active === undefined ? [] : [control.active];
  if (control.trial === undefined || control.trial.triesLeft <= 0) return active;
  flash.setSlotControl(component, { ...control, trial: { ...control.trial, triesLeft: control.trial.triesLeft - 1 } });
  return [control.trial.slot, ...active];
}

/**
 * Secure and measured boot: the ROM verifies the bootloader against the
 * platform key burned in the fuses, the bootloader verifies the security
 * monitor and the OS, the OS verifies each app against the app key. Every
 * stage that runs is measured into the boot log first. An OS slot on trial
 * (after an update) spends one try each boot, whatever happens next, so a
 * slot that keeps failing — or loses power — is abandoned for the active one.
 */
export function secureBoot(flash: Flash, fuses: Fuses): BootResult {
  const bootLog: BootMeasurement[] = [{ stage: 'rom', sha256: ROM_MEASUREMENT }];
  const securityVersions: Record<string, number> = {};
  const signers: Record<string, string> = {};
  const stageVersions: Record<string, string> = {};
  const failures: StageFailure[] = [];
  const platformKeys = trustedKeys(fuses, PLATFORM_KEY_FUSE);
  const recovery = (): BootResult => ({
    mode: 'recovery',
    bootLog,
    signers,
    securityVersions,
    stageVersions,
    versions: { os: '', apps: {} },
    osSlot: undefined,
    apps: [],
    failures,
  });
  const measured = (stage: ImageComponent, image: SignedImage) => {
    bootLog.push({ stage, sha256: measureImage(image) });
    signers[stage] = keyIdOf(image.signerSpki);
    securityVersions[stage] = image.manifest.securityVersion;
    stageVersions[stage] = image.manifest.version;
  };

  for (const stage of ['bootloader', 'security-monitor'] as const) {
    const checked = verifyStage(flash, fuses, stage, undefined, platformKeys);
    if ('reason' in checked) {
      failures.push(checked);
      return recovery();
    }
    measured(stage, checked.image);
  }

  let os: { image: SignedImage; slot: Slot } | undefined;
  for (const slot of bootCandidates(flash, 'os')) {
    const checked = verifyStage(flash, fuses, 'os', slot, platformKeys);
    if ('reason' in checked) failures.push(checked);
    else {
      os = { image: checked.image, slot };
      break;
    }
  }
  if (os === undefined) return recovery();
  measured('os', os.image);

  const appKeys = trustedKeys(fuses, APP_KEY_FUSE);
  const apps: Array<{ image: SignedImage; slot: Slot }> = [];
  const appVersions: Record<string, string> = {};
  for (const name of flash.appNames) {
    const component = `app:${name}` as const;
    for (const candidate of bootCandidates(flash, component)) {
      const checked = verifyStage(flash, fuses, component, candidate, appKeys);
      if ('reason' in checked) {
        failures.push(checked);
        continue;
      }
      measured(component, checked.image);
      apps.push({ image: checked.image, slot: candidate });
      appVersions[name] = checked.image.manifest.version;
      break;
    }
  }
  return {
    mode: 'normal',
    bootLog,
    signers,
    securityVersions,
    stageVersions,
    versions: { os: os.image.manifest.version, apps: appVersions },
    osSlot: os.slot,
    apps,
    failures,
  };
}
