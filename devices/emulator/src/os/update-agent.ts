import type { Flash, Slot } from '../mcu/flash.js';
import { otherSlot } from '../mcu/flash.js';
import type { Fuses } from '../mcu/fuses.js';
import { ImageFormatError, decodeImage, encodeImage, type ImageComponent } from '@rampart/trust';
import { APP_KEY_FUSE, PLATFORM_KEY_FUSE, checkImage, trustedKeys, type BootResult } from '../mcu/secure-boot.js';
import type { DeviceStateStore } from '../mcu/state-store.js';

/** The update agent's states; each is persisted before anything is done in it. */
export const UPDATE_STATES = ['idle', 'download', 'verify', 'install', 'reboot', 'health-check', 'commit', 'rollback', 'failure'] as const;
export type UpdateState = (typeof UPDATE_STATES)[number];

/** Thrown by a power-loss hook: the device loses power on entering that state. */
export class PowerLoss extends Error {
  override readonly name = 'PowerLoss';
  constructor(readonly state: UpdateState) {
    super(`power lost in state ${state}`);
  }
}

export type UpdateOutcome =
  | { readonly result: 'committed'; readonly component: ImageComponent; readonly version: string }
  | { readonly result: 'rolled-back' | 'refused'; readonly component: ImageComponent; readonly version: string; readonly reason: string };

/** What the agent needs from the OS around it. */
export interface UpdateHost {
  /** Restarts the device for the agent: secure boot again (the bootloader takes a trial slot), without resuming the agent. */
  reboot(): BootResult;
  /** After booting an update: is the device healthy (booted normally, the component running, no crashes)? */
  healthCheck(component: ImageComponent): Promise<boolean>;
  /** Called on entering every state; a test makes it throw `PowerLoss`. */
  onState?(state: UpdateState): void;
}

interface AgentRecord {
  readonly state: UpdateState;
  readonly component?: ImageComponent;
  readonly version?: string;
  readonly securityVersion?: number;
  /** The slot that ran before; absent on an app's first install (nothing ran, so a rollback uninstalls it). */
  readonly from?: Slot;
  readonly to?: Slot;
}

const RECORD = 'update-agent';

/**
 * Installs an image into the inactive A/B slot and keeps the device
 * bootable whatever happens: the new slot is only ever tried (one boot),
 * committed after a health check, or abandoned; the anti-rollback fuse
 * advances only on commit. Every state is persisted on entry, so after a
 * power loss `resume` carries on from where it stopped — or, if the
 * commit decision was never made, leaves the old slot active.
 */
export class UpdateAgent {
  constructor(
    private readonly store: DeviceStateStore,
    private readonly flash: Flash,
    private readonly fuses: Fuses,
    private readonly host: UpdateHost,
  ) {}

  get state(): UpdateState {
    return this.record.state;
  }

  private get record(): AgentRecord {
    const raw = this.store.read(RECORD);
    return raw === undefined ? { state: 'idle' } : (JSON.parse(raw.toString('utf8')) as AgentRecord);
  }

  private enter(record: AgentRecord): void {
    this.store.write(RECORD, Buffer.from(JSON.stringify(record)));
    this.host.onState?.(record.state);
  }

  /**
   * Applies one image. `fetch` is the download (bounded by `maxBytes`: an
   * image longer than declared is refused, not buffered without end).
   */
  async apply(fetch: () => Promise<Uint8Array>, expected: { component: ImageComponent; maxBytes: number }): Promise<UpdateOutcome> {
    if (this.record.state !== 'idle') throw new Error(`an update is already in progress (${this.record.state})`);
    const component = expected.component;
    this.enter({ state: 'download', component });
    let bytes: Uint8Array;
    try {
      bytes = await fetch();
    } catch (error) {
      return this.refuse(component, '', `download failed: ${(error as Error).message}`);
    }
    if (bytes.length > expected.maxBytes)
      return this.refuse(component, '', `image is ${bytes.length} bytes, more than the ${expected.maxBytes} declared`);

    this.enter({ state: 'verify', component });
    let image;
    try {
      image = decodeImage(bytes);
    } catch (error) {
      if (error instanceof ImageFormatError) return this.refuse(component, '', error.message);
      throw error;
    }
    const keys = trustedKeys(this.fuses, component.startsWith('app:') ? APP_KEY_FUSE : PLATFORM_KEY_FUSE);
    const checked = checkImage(image, this.fuses, component, keys);
    if ('reason' in checked) return this.refuse(component, image.manifest.version, `${checked.reason}: ${checked.detail}`);

    // An app not installed yet has no active slot: it goes into slot A, and nothing is its fallback.
    const from = this.flash.slotControl(component).active;
    const to = from === undefined ? 'a' : otherSlot(from);
    const target = {
      component,
      version: image.manifest.version,
      securityVersion: image.manifest.securityVersion,
      ...(from === undefined ? {} : { from }),
      to,
    };
    this.enter({ state: 'install', ...target });
    const encoded = encodeImage(image);
    // A flash write takes time; power lost half-way leaves a torn slot, which
    // nothing boots because the slot is not yet marked for a trial.
    this.flash.write(component, to, encoded.subarray(0, Math.floor(encoded.length / 2)));
    this.host.onState?.('install');
    this.flash.write(component, to, encoded);
    this.flash.setSlotControl(component, { ...(from === undefined ? {} : { active: from }), trial: { slot: to, triesLeft: 1 } });

    this.enter({ state: 'reboot', ...target });
    const boot = this.host.reboot();
    return this.afterBoot(boot);
  }

  /** After a power cycle: finish or undo whatever was in progress. Undefined if nothing was. */
  async resume(boot: BootResult): Promise<UpdateOutcome | undefined> {
    const record = this.record;
    switch (record.state) {
      case 'idle':
        return undefined;
      case 'download':
      case 'verify':
      case 'install':
      case 'failure':
        // Nothing was marked to boot; the torn or unverified slot is never used.
        return this.refuse(record.component ?? 'os', record.version ?? '', `interrupted in ${record.state} (power lost)`);
      case 'reboot':
      case 'health-check':
        return this.afterBoot(boot);
      case 'commit': {
        const running =
          (record.component ?? 'os') === 'os' ? boot.osSlot : boot.apps.find((a) => a.image.manifest.component === record.component)?.slot;
        return this.commit(record, running === record.to);
      }
      case 'rollback':
        // The trial boot was spent before any rollback, so this boot already runs the old slot.
        return this.rollback(record, 'interrupted during rollback (power lost)', false);
    }
  }

  private async afterBoot(boot: BootResult): Promise<UpdateOutcome> {
    const record = this.record;
    const component = record.component ?? 'os';
    const bootedSlot = component === 'os' ? boot.osSlot : boot.apps.find((a) => a.image.manifest.component === component)?.slot;
    if (boot.mode !== 'normal' || bootedSlot !== record.to) {
      const why = boot.failures.map((f) => `${f.stage}${f.slot === undefined ? '' : `[${f.slot}]`}: ${f.reason}`).join('; ');
      return this.rollback(record, `the new image did not boot${why === '' ? '' : ` (${why})`}`, false);
    }
    this.enter({ ...record, state: 'health-check' });
    if (!(await this.host.healthCheck(component))) return this.rollback(record, 'health check failed', true);
    return this.commit(record, true);
  }

  /** Makes the new slot the active one and raises the fuse; reboots into it if power loss left the old one running. */
  private commit(record: AgentRecord, running: boolean): UpdateOutcome {
    const component = record.component ?? 'os';
    this.enter({ ...record, state: 'commit' });
    // Idempotent, so a commit cut short by power loss is simply done again.
    this.flash.setSlotControl(component, { active: record.to ?? 'a' });
    this.fuses.advance(component, record.securityVersion ?? 0);
    this.enter({ state: 'idle' });
    if (!running) this.host.reboot();
    return { result: 'committed', component, version: record.version ?? '' };
  }

  /**
   * Back to the old slot — or, for an app's first install, back to no app
   * (pointing it at a slot never written would make every boot fail to
   * find it). A reboot only if the new image is what is running now.
   */
  private rollback(record: AgentRecord, reason: string, reboot: boolean): UpdateOutcome {
    const component = record.component ?? 'os';
    this.enter({ ...record, state: 'rollback' });
    if (record.from === undefined && component.startsWith('app:')) this.flash.uninstall(component);
    else this.flash.setSlotControl(component, { active: record.from ?? this.flash.slotControl(component).active });
    if (reboot) this.host.reboot();
    this.enter({ state: 'idle' });
    return { result: 'rolled-back', component, version: record.version ?? '', reason };
  }

  private refuse(component: ImageComponent, version: string, reason: string): UpdateOutcome {
    this.enter({ state: 'failure', component, version });
    this.enter({ state: 'idle' });
    return { result: 'refused', component, version, reason };
  }
}
