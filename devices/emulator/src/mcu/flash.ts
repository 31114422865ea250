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

export interface SlotControl {
  readonly active: Slot;
  readonly trial?: TrialBoot;
}

/** Which slot of each A/B component boots: the OS, and every app by name. */
export interface BootControl {
  readonly os: SlotControl;
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

  slotControl(component: ImageComponent): SlotControl {
    const control = this.bootControl;
    if (component === 'os') return control.os;
    return control.apps[component.slice('app:'.length)] ?? { active: 'a' };
  }

  setSlotControl(component: ImageComponent, slot: SlotControl): void {
    const control = this.bootControl;
    this.bootControl =
      component === 'os' ? { ...control, os: slot } : { ...control, apps: { ...control.apps, [component.slice('app:'.length)]: slot } };
  }

  /** Names of the apps installed (those with a boot-control entry). */
  get appNames(): string[] {
    return Object.keys(this.bootControl.apps).sort();
  }
}
