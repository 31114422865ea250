import { provisionUpdateRoot, type ManufacturedDevice } from '@rampart/emulator';
import type { ApiClient } from '@rampart/api-client';

/**
 * Claims each device for the token's tenant, as an operator's claiming
 * tool would with the device on its wired link, and provisions the device
 * with the tenant's update root the claim answers with: the device pins
 * it and trusts only roots chained from it. Claiming is idempotent for
 * the same tenant, so claiming again is how a device claimed while the
 * updates service was away gets its root. Answers how many got none.
 */
export async function claimDevices(client: ApiClient, token: string, devices: readonly ManufacturedDevice[]): Promise<number> {
  let withoutRoot = 0;
  for (const device of devices) {
    const answer = (await client.expect('PUT', `/v1/devices/${device.security.deviceId}/claim`, token, undefined, [200])) as {
      readonly updateRoot?: string | null;
    };
    if (typeof answer.updateRoot === 'string') provisionUpdateRoot(device.security.store, device.security.deviceId, answer.updateRoot);
    else withoutRoot++;
  }
  return withoutRoot;
}

export function warnWithoutRoot(count: number): void {
  if (count > 0) {
    process.stderr.write(
      `${count} devices were claimed without an update root (the updates service did not answer): they refuse updates until claimed again\n`,
    );
  }
}
