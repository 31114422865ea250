import {
  DeviceUpdater,
  SecureOs,
  UpdateClient,
  demoFirmwareSigners,
  manufactureDevice,
  platformImage,
  provisionUpdateRoot,
  realEnvironment,
  type ManufacturedDevice,
} from '@rampart/emulator';
import { createTestTenantIssuer } from '@rampart/testing';
import { encodeImage, type SignedImage } from '@rampart/trust';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpdatesEnvironment, type UpdatesEnvironment } from './updates-environment.js';

interface Rig {
  readonly device: ManufacturedDevice;
  readonly os: SecureOs;
  readonly updater: DeviceUpdater;
}

/**
 * A person resumes a deployment its gates paused: the rollout goes on
 * from there (the shortfall they accepted is not judged again) and the
 * waves opened after are judged on their own devices. Real devices install
 * or refuse through the service; the engine's ticks are driven by the test.
 */
describe('resuming a rollout its gates paused', () => {
  let env: UpdatesEnvironment;
  let group = '';
  const rigs: Rig[] = [];

  beforeAll(async () => {
    // Ticks only when the test asks: each step below is one look by the engine.
    env = await startUpdatesEnvironment('resume', { ROLLOUT_TICK_MS: '3600000' });
    const product = await env.api(env.tokens.acme, 'POST', '/v1/products', { name: 'Resume rig' });
    group = product.body.groups.find((g: { name: string }) => g.name === 'Production').id as string;
    const issue = await createTestTenantIssuer(env.pki.platformCa, 'acme');
    for (let i = 0; i < 4; i++) {
      const device = await manufactureDevice(env.pki.manufacturerCa);
      provisionUpdateRoot(device.security.store, device.security.deviceId, await env.claim(env.tokens.acme, device.security.deviceId));
      await env.api(env.tokens.acme, 'PUT', `/v1/device-groups/${group}/devices/${device.security.deviceId}`);
      const certificate = issue(device);
      const os = new SecureOs(
        device.security,
        realEnvironment,
        { telemetry: () => undefined, failure: () => undefined, heartbeat: () => undefined },
        { healthWindowMs: 50 },
      );
      await os.powerOn();
      const client = new UpdateClient(
        { host: '127.0.0.1', port: env.updates.devicePort },
        () => device.security.tlsContext(`${certificate.certificatePem}${certificate.chainPem}`, env.pki.platformCa.certificatePem),
        { requestDeadlineMs: 10_000, resumeAttempts: 2 },
      );
      rigs.push({ device, os, updater: new DeviceUpdater(device.security.deviceId, os, client, device.security.store) });
    }
  });

  afterAll(async () => {
    for (const rig of rigs) rig.os.shutdown();
    await env?.close();
  });

  async function released(image: SignedImage): Promise<string> {
    const uploaded = await env.api(env.tokens.acme, 'POST', '/v1/images', encodeImage(image));
    expect(uploaded.status).toBe(201);
    await env.api(env.tokens.acme, 'POST', `/v1/images/${uploaded.body.sha256}/release`);
    return uploaded.body.sha256 as string;
  }

  const status = async (id: string): Promise<{ deployment: unknown; counts: unknown }> =>
    (await env.api(env.tokens.acme, 'GET', `/v1/deployments/${id}`)).body as { deployment: unknown; counts: unknown };
  /** Every device asks once (those whose wave is not open are offered nothing). */
  const checkAll = () => Promise.all(rigs.map((r) => r.updater.check()));

  it('goes on after a resume instead of pausing again at the next tick, and judges the next wave on its own devices', async () => {
    // An image for other hardware: every device that is offered it refuses it, so its install gate fails.
    const wrong = await released(platformImage('os', '2.0.0', 2, demoFirmwareSigners(), 'another-board'));
    const created = await env.api(env.tokens.acme, 'POST', '/v1/deployments', {
      groupId: group,
      images: [wrong],
      rollout: { waves: { kind: 'percent', percents: [50, 100] }, abort: [], gates: { crashRate: false } },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    await checkAll();
    await env.updates.rollouts.tick();
    expect((await status(id)).deployment).toMatchObject({
      state: 'paused',
      currentWave: 0,
      reason: expect.stringMatching(/install success 0\.0 %/),
    });

    // The person accepts the first wave's failures and resumes: the next look opens the next wave.
    expect((await env.api(env.tokens.acme, 'POST', `/v1/deployments/${id}/resume`, { reason: 'known board mix-up' })).status).toBe(200);
    await env.updates.rollouts.tick();
    expect((await status(id)).deployment).toMatchObject({ state: 'active', currentWave: 1 });

    // The second wave fails too, and is judged on its own: paused again, now at wave 1, for a person to look at.
    await checkAll();
    await env.updates.rollouts.tick();
    const after = await status(id);
    expect(after.deployment).toMatchObject({ state: 'paused', currentWave: 1 });
    expect(after.counts).toMatchObject({ failed: 4, installed: 0 });
  });
});
