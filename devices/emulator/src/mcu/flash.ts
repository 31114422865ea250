import { ImageFormatError, decodeImage, encodeImage, type ImageComponent, type SignedImage } from '@rampart/trust';
import type { DeviceStateStore } from './state-store.js';

export type Slot = 'a' | 'b';

export function otherSlot(slot: Slot): Slot {
  return slot === 'a' ? 'b' : 'a';
}

/** A slot being tried after an update: booted at most `triesLeft` more times before the bootloader gives up on it. */
export interface TrialBoot {
  readonly slot: Slot;
  readonly triesLeft: number;
}

/**
 * `active` is absent only for an app being installed for the first time:
 * its trial slot is all there is, and once that try is spent nothing of
 * it boots until the update agent commits it (or uninstalls it again).
 */
export interface SlotControl {
  readonly active?: Slot;
  readonly trial?: TrialBoot;
}

/** The OS always has an active slot (the factory writes it). */
export interface OsSlotControl extends SlotControl {
  readonly active: Slot;
}

/** Which slot of each A/B component boots: the OS, and every app by name. */
export interface BootControl {
  readonly os: OsSlotControl;
  readonly apps: Readonly<Record<string, SlotControl>>;
}

const BOOT_CONTROL = 'boot-control';

/** Components with A/B slots; the boot stages before the OS have one slot each. */
export function hasSlots(component: ImageComponent): boolean {
  return component === 'os' || component.startsWith('app:');
}

function entryName(component: ImageComponent, slot: Slot | undefined): string {
  const base = `flash.${component.replace(':', '.')}`;
  return hasSlots(component) ? `${base}.${slot ?? 'a'}` : base;
}

export type SlotRead = { readonly image: SignedImage } | { readonly missing: true } | { readonly malformed: string };

/**
 * The device's flash: one slot for the bootloader and security monitor, A/B
 * slots for the OS and each app, and the boot-control block that says which
 * slot boots. Each write is atomic (the state store's contract).
 */
export class Flash {
  constructor(private readonly store: DeviceStateStore) {}

  read(component: ImageComponent, slot?: Slot): SlotRead {
    const bytes = this.store.read(entryName(component, slot));
    if (bytes === undefined || bytes.length === 0) return { missing: true };
    try {
      return { image: decodeImage(bytes) };
    } catch (error) {
      if (error instanceof ImageFormatError) return { malformed: error.message };
      throw error;
    }
  }

  write(component: ImageComponent, slot: Slot | undefined, image: SignedImage | Uint8Array): void {
    this.store.write(entryName(component, slot), image instanceof Uint8Array ? image : encodeImage(image));
  }

  get bootControl(): BootControl {
    const raw = this.store.read(BOOT_CONTROL);
    return raw === undefined ? { os: { active: 'a' }, apps: {} } : (JSON.parse(raw.toString('utf8')) as BootControl);
  }

  set bootControl(control: BootControl) {
    this.store.write(BOOT_CONTROL, Buffer.from(JSON.stringify(control)));
  }

  /** An app that is not installed has no active slot (not slot A: nothing was ever written there). */
  slotControl(component: ImageComponent): SlotControl {
    const control = this.bootControl;
    if (component === 'os') return control.os;
    return control.apps[component.slice('app:'.length)] ?? {};
  }

  setSlotControl(component: ImageComponent, slot: SlotControl): void {
    const control = this.bootControl;
    if (component !== 'os') {
      this.bootControl = { ...control, apps: { ...control.apps, [component.slice('app:'.length)]: slot } };
    } else if (slot.active === undefined) {
      throw new RangeError('the OS always has an active slot');
    } else {
      this.bootControl = { ...control, os: { ...slot, active: slot.active } };
    }
  }

  /** Takes an app out of boot control (a first install rolled back): the OS no longer looks for it. */
  uninstall(component: ImageComponent): void {
    if (!component.startsWith('app:')) throw new RangeError(`only an app can be uninstalled, not ${component}`);
    const control = this.bootControl;
    const { [component.slice('app:'.length)]: _removed, ...apps } = control.apps;
    this.bootControl = { ...control, apps };
  }

  /** Names of the apps installed (those with a boot-control entry). */
  get appNames(): string[] {
    return Object.keys(this.bootControl.apps).sort();
  }
}
