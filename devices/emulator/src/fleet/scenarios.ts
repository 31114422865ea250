import type { EmulatedDevice } from '../device/emulated-device.js';
import { DEMO_HARDWARE, type FirmwareSigners } from '../firmware/firmware.js';
import { sampleAppImage } from '../firmware/app-images.js';
import { encodeImage } from '@rampart/trust';
import { PowerLoss, UPDATE_STATES, type UpdateState } from '../os/update-agent.js';

/** What a scenario can do to a running fleet. */
export interface FleetControl {
  readonly devices: readonly EmulatedDevice[];
  readonly random: () => number;
  sleep(ms: number): Promise<void>;
  /** Marks a moment on the report's timeline. */
  mark(event: string): void;
  /** The run's length, so a scenario can place its acts. */
  readonly durationMs: number;
  /** Who signed the fleet's firmware: the keys an image must be signed with for its devices to install it. */
  readonly firmwareSigners: FirmwareSigners;
}

export type ScenarioAction = (fleet: FleetControl) => Promise<void>;

/** A named load scenario: fleet settings it needs, and what it does during the run. */
export interface Scenario {
  readonly name: ScenarioName;
  readonly description: string;
  /** New connections per second (undefined: the runner's default ramp). */
  readonly connectRatePerSec?: (devices: number) => number;
  readonly apps?: readonly string[];
  readonly appConfig?: Readonly<Record<string, Readonly<Record<string, string | number | boolean>>>>;
  readonly act?: ScenarioAction;
}

export const SCENARIO_NAMES = [
  'steady',
  'connect-storm',
  'attestation-storm',
  'crash-wave',
  'reconnect-storm',
  'power-loss-update',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

async function onAll(devices: readonly EmulatedDevice[], act: (d: EmulatedDevice) => Promise<unknown> | void): Promise<void> {
  await Promise.all(devices.map(async (d) => act(d)));
}

/** The crashing sensor build every device installs in the crash-wave and power-loss scenarios. */
function crashySensorImage(signers: FirmwareSigners): Buffer {
  return encodeImage(sampleAppImage('sensor-1.1', signers.apps, DEMO_HARDWARE));
}

export const SCENARIOS: Readonly<Record<ScenarioName, Scenario>> = {
  steady: {
    name: 'steady',
    description: 'connect at the default ramp, then steady QoS 1 telemetry',
  },
  'connect-storm': {
    name: 'connect-storm',
    description: 'every device connects (and attests) within one second',
    connectRatePerSec: (devices) => Math.max(1, devices),
  },
  'attestation-storm': {
    name: 'attestation-storm',
    description: 'a third of the way in, every device reboots at once and attests again',
    act: async (fleet) => {
      await fleet.sleep(fleet.durationMs / 3);
      fleet.mark('every device reboots');
      await onAll(fleet.devices, (d) => d.reboot());
    },
  },
  'crash-wave': {
    name: 'crash-wave',
    description: 'every device installs sensor 1.1.0, which crashes on 30 % of its ticks: crash reports, then rollbacks',
    apps: ['sensor'],
    appConfig: { sensor: { intervalMs: 1_000, crashRate: 0.3 } },
    act: async (fleet) => {
      await fleet.sleep(fleet.durationMs / 4);
      fleet.mark('sensor 1.1.0 released to every device');
      const image = crashySensorImage(fleet.firmwareSigners);
      await onAll(fleet.devices, (d) => d.os?.update(() => Promise.resolve(image), { component: 'app:sensor', maxBytes: image.length }));
      fleet.mark('updates settled');
    },
  },
  'reconnect-storm': {
    name: 'reconnect-storm',
    description: 'half-way, every connection drops at once (as in a broker restart); devices come back with backoff and jitter',
    act: async (fleet) => {
      await fleet.sleep(fleet.durationMs / 2);
      fleet.mark('every connection drops');
      for (const device of fleet.devices) device.loseConnection();
    },
  },
  'power-loss-update': {
    name: 'power-loss-update',
    description: 'every device updates its sensor app; each loses power at a random update state, powers on and must boot a verified slot',
    apps: ['sensor'],
    appConfig: { sensor: { intervalMs: 1_000, crashRate: 0 } },
    act: async (fleet) => {
      await fleet.sleep(fleet.durationMs / 4);
      fleet.mark('update with power loss');
      const image = crashySensorImage(fleet.firmwareSigners);
      const states = UPDATE_STATES.filter(
        (s): s is Exclude<UpdateState, 'idle' | 'failure' | 'rollback'> => !['idle', 'failure', 'rollback'].includes(s),
      );
      await onAll(fleet.devices, async (d) => {
        const os = d.os;
        if (os === undefined) return;
        const cutAt = states[Math.floor(fleet.random() * states.length)];
        os.setPowerLossHook((state) => {
          if (state === cutAt) {
            os.setPowerLossHook(undefined);
            throw new PowerLoss(state);
          }
        });
        try {
          await os.update(() => Promise.resolve(image), { component: 'app:sensor', maxBytes: image.length });
        } catch (error) {
          if (!(error instanceof PowerLoss)) throw error;
          await d.reboot();
        }
      });
      fleet.mark('every device powered on again');
    },
  },
};
