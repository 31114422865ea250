import type { FleetOptions } from '@rampart/emulator';
import { claimDevices, warnWithoutRoot } from './commands/claim-devices.js';
import type { EmbeddedPlatform } from './embedded-platform.js';

/** How often a demo device asks for updates besides after attestation and on notice. */
export const DEMO_UPDATE_CHECK_INTERVAL_MS = 15_000;

/**
 * How long a demo device runs a new image before it keeps it: short, so a rollout an operator starts against the
 * demo finishes while they watch (the emulator's default, 30 s, is closer to what a real device waits).
 */
export const DEMO_HEALTH_WINDOW_MS = 5_000;

/**
 * What makes an emulated fleet the embedded platform's demo fleet: its
 * gateway and CAs, its devices claimed for the demo tenant (which hands
 * them the tenant's update root) before they first connect, and the
 * updates device endpoint they check — after every attestation, on every
 * notice and every `DEMO_UPDATE_CHECK_INTERVAL_MS` — so they take part in
 * rollouts. `onClaimed` hears the claimed devices' ids.
 */
export function demoFleetOptions(
  platform: EmbeddedPlatform,
  onClaimed: (deviceIds: readonly string[]) => void = () => undefined,
): Pick<FleetOptions, 'endpoint' | 'manufacturerCa' | 'gatewayCaPem' | 'firmwareSigners' | 'updates' | 'healthWindowMs' | 'beforeStart'> {
  return {
    endpoint: { kind: 'tls', host: '127.0.0.1', port: platform.gateway.mqttPort, servername: 'localhost' },
    manufacturerCa: platform.pki.manufacturerCa,
    gatewayCaPem: platform.pki.platformCa.certificatePem,
    // Fused to the data folder's firmware keys, so the operator's own packed images (and the demo's) update these devices.
    firmwareSigners: platform.firmware.signers,
    updates: {
      server: { host: '127.0.0.1', port: platform.updates.devicePort, servername: 'localhost' },
      checkIntervalMs: DEMO_UPDATE_CHECK_INTERVAL_MS,
    },
    healthWindowMs: DEMO_HEALTH_WINDOW_MS,
    // The tenant claims its devices before they first connect, as an operator would.
    beforeStart: async (devices) => {
      warnWithoutRoot(await claimDevices(platform.platformClient, platform.tenant.adminToken, devices));
      onClaimed(devices.map((d) => d.security.deviceId));
    },
  };
}
