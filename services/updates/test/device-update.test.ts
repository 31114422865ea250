import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { DeviceFailureReport } from '@rampart/contracts';
import {
  DEMO_HARDWARE,
  DeviceUpdater,
  PowerLoss,
  SecureOs,
  UPDATE_STATES,
  UpdateClient,
  demoFirmwareSigners,
  manufactureDevice,
  platformImage,
  provisionUpdateRoot,
  realEnvironment,
  type ManufacturedDevice,
} from '@rampart/emulator';
import { createTestTenantIssuer, type TestOperationalCertificate } from '@rampart/testing';
import { ImageSigner, encodeImage, type SignedImage } from '@rampart/trust';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpdatesEnvironment, type UpdatesEnvironment } from './updates-environment.js';

/**
 * A device with the secure OS updates itself through the real service:
 * metadata verified, image downloaded over mutual TLS, installed by the
 * update agent. Each attack the agent must catch leaves the active slot
 * untouched and is reported.
 */
describe('a device updating through the updates service', () => {
  let env: UpdatesEnvironment;
  let device: ManufacturedDevice;
  let os: SecureOs;
  let updater: DeviceUpdater;
  let client: UpdateClient;
  let group = '';
  const failures: DeviceFailureReport[] = [];

  beforeAll(async () => {
    env = await startUpdatesEnvironment('devupdate');
    device = await manufactureDevice(env.pki.manufacturerCa);
    provisionUpdateRoot(device.security.store, device.security.deviceId, await env.claim(env.tokens.acme, device.security.deviceId));
    const issue = await createTestTenantIssuer(env.pki.platformCa, 'acme');
    const certificate: TestOperationalCertificate = issue(device);
    os = new SecureOs(
      device.security,
      realEnvironment,
      { telemetry: () => undefined, failure: (r) => failures.push(r), heartbeat: () => undefined },
      { healthWindowMs: 100 },
    );
    await os.powerOn();
    client = new UpdateClient(
      { host: '127.0.0.1', port: env.updates.devicePort },
      () => device.security.tlsContext(`${certificate.certificatePem}${certificate.chainPem}`, env.pki.platformCa.certificatePem),
      { requestDeadlineMs: 10_000, resumeAttempts: 2 },
    );
    updater = new DeviceUpdater(device.security.deviceId, os, client, device.security.store);
    const product = await env.api(env.tokens.acme, 'POST', '/v1/products', { name: 'Thermostat' });
    group = product.body.groups.find((g: { name: string }) => g.name === 'Field Test').id as string;
    await env.api(env.tokens.acme, 'PUT', `/v1/device-groups/${group}/devices/${device.security.deviceId}`);
  });

  afterAll(async () => {
    os?.shutdown();
    await env?.close();
  });

  /** Uploads, releases and deploys one image to a group (the device's, unless named). */
  async function deploy(image: SignedImage, to = group): Promise<string> {
    const uploaded = await env.api(env.tokens.acme, 'POST', '/v1/images', encodeImage(image));
    expect(uploaded.status).toBe(201);
    await env.api(env.tokens.acme, 'POST', `/v1/images/${uploaded.body.sha256}/release`);
    const deployment = await env.api(env.tokens.acme, 'POST', '/v1/deployments', { groupId: to, images: [uploaded.body.sha256] });
    return deployment.body.id as string;
  }

  const activeOs = () => ({ version: os.booted.versions.os, slot: os.flash.slotControl('os').active });

  it('installs a new OS end to end: verified, downloaded, booted on trial, health-checked, committed, reported', async () => {
    const deployment = await deploy(platformImage('os', '2.0.0', 2, demoFirmwareSigners(), DEMO_HARDWARE));
    const before = activeOs();
    const check = await updater.check();
    expect(check).toMatchObject({ result: 'updated', deployment, outcomes: [{ result: 'committed', version: '2.0.0' }] });
    expect(activeOs()).toEqual({ version: '2.0.0', slot: before.slot === 'a' ? 'b' : 'a' });
    expect(device.security.fuses.counter('os')).toBe(2);
    const status = await env.api(env.tokens.acme, 'GET', `/v1/deployments/${deployment}`);
    expect(status.body.counts).toMatchObject({ installed: 1 });
    // Asked again: nothing to do.
    expect(await updater.check()).toEqual({ result: 'up-to-date', deployment });
  });

  it.each([
    ['wrong hardware', () => platformImage('os', '3.0.0', 3, demoFirmwareSigners(), 'another-board'), /wrong-hardware/],
    [
      'an unknown signing key',
      () => ImageSigner.create().sign({ component: 'os', version: '3.1.0', securityVersion: 3, hardware: DEMO_HARDWARE }, Buffer.from('x')),
      /unknown-key/,
    ],
    [
      'a lower security version (rollback)',
      () => platformImage('os', '1.5.0', 1, demoFirmwareSigners(), DEMO_HARDWARE),
      /rollback|security/,
    ],
  ])('refuses %s: the active slot untouched, the failure reported', async (_name, make, reason) => {
    const before = activeOs();
    const reports = failures.length;
    const deployment = await deploy(make());
    const check = await updater.check();
    expect(check).toMatchObject({
      result: 'updated',
      deployment,
      outcomes: [{ result: 'refused', reason: expect.stringMatching(reason) }],
    });
    expect(activeOs()).toEqual(before);
    expect(failures.slice(reports)).toEqual([expect.objectContaining({ kind: 'update-failure', component: 'os' })]);
    const status = await env.api(env.tokens.acme, 'GET', `/v1/deployments/${deployment}`);
    expect(status.body.devices).toEqual([expect.objectContaining({ state: 'failed', detail: expect.stringMatching(reason) })]);
  });

  it('loses power at every update state across a fleet: no device bricked, each on the old or the new OS, the deployment says which', async () => {
    // One device per state the agent passes through on a good update; each loses power there on its first try.
    const states = UPDATE_STATES.filter((st) => !['idle', 'rollback', 'failure'].includes(st));
    const fleetProduct = await env.api(env.tokens.acme, 'POST', '/v1/products', { name: 'Power rig' });
    const fleetGroup = fleetProduct.body.groups.find((g: { name: string }) => g.name === 'Production').id as string;
    const issue = await createTestTenantIssuer(env.pki.platformCa, 'acme');
    const rigs = await Promise.all(
      states.map(async (state) => {
        const made = await manufactureDevice(env.pki.manufacturerCa);
        provisionUpdateRoot(made.security.store, made.security.deviceId, await env.claim(env.tokens.acme, made.security.deviceId));
        await env.api(env.tokens.acme, 'PUT', `/v1/device-groups/${fleetGroup}/devices/${made.security.deviceId}`);
        const certificate = issue(made);
        let cut = false;
        const powerOn = () =>
          new SecureOs(
            made.security,
            realEnvironment,
            { telemetry: () => undefined, failure: () => undefined, heartbeat: () => undefined },
            {
              healthWindowMs: 100,
              onUpdateState: (entered) => {
                if (entered === state && !cut) {
                  cut = true;
                  throw new PowerLoss(entered);
                }
              },
            },
          );
        const client = new UpdateClient(
          { host: '127.0.0.1', port: env.updates.devicePort },
          () => made.security.tlsContext(`${certificate.certificatePem}${certificate.chainPem}`, env.pki.platformCa.certificatePem),
          { requestDeadlineMs: 10_000, resumeAttempts: 1 },
        );
        return { state, made, powerOn, client };
      }),
    );
    const deployment = await deploy(platformImage('os', '4.0.0', 4, demoFirmwareSigners(), DEMO_HARDWARE), fleetGroup);
    const versions: Record<string, string> = {};
    for (const rig of rigs) {
      let os = rig.powerOn();
      await os.powerOn();
      const updater = () => new DeviceUpdater(rig.made.security.deviceId, os, rig.client, rig.made.security.store);
      await expect(updater().check(), rig.state).rejects.toBeInstanceOf(PowerLoss);
      // Power comes back: secure boot picks a verified slot, and the agent finishes or undoes what it was doing.
      os.shutdown();
      os = rig.powerOn();
      const boot = await os.powerOn();
      expect(boot.mode, rig.state).toBe('normal');
      expect(['1.0.0', '4.0.0'], rig.state).toContain(os.booted.versions.os);
      // The next check lands it, or finds it landed, and tells the deployment.
      await updater().check();
      versions[rig.state] = os.booted.versions.os;
      os.shutdown();
    }
    expect(Object.values(versions).every((v) => v === '4.0.0')).toBe(true);
    const status = await env.api(env.tokens.acme, 'GET', `/v1/deployments/${deployment}`);
    expect(status.body.counts).toMatchObject({ members: states.length, installed: states.length });
  });

  it('gives up on a server that dribbles (slow retrieval) and one that sends more than the targets declare (endless data)', async () => {
    const issue = await createTestTenantIssuer(env.pki.platformCa, 'acme');
    const certificate = issue(device);
    const { readFile } = await import('node:fs/promises');
    const server = createServer(
      { cert: await readFile(env.pki.files.gatewayCert), key: await readFile(env.pki.files.gatewayKey) },
      (req, res) => {
        res.writeHead(200);
        if (req.url?.includes('slow') === true) {
          const timer = setInterval(() => res.write('x'), 100);
          res.on('close', () => clearInterval(timer));
        } else res.end(Buffer.alloc(10_000));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const client = new UpdateClient(
        { host: '127.0.0.1', port: (server.address() as AddressInfo).port },
        () => device.security.tlsContext(`${certificate.certificatePem}${certificate.chainPem}`, env.pki.platformCa.certificatePem),
        { requestDeadlineMs: 500, resumeAttempts: 0 },
      );
      await expect(client.metadata('slow.json', 1_000_000)).rejects.toMatchObject({ reason: 'slow-retrieval' });
      const target = { path: 'images/x', length: 100, sha256: '0'.repeat(64), custom: {} as never };
      await expect(client.download(target)).rejects.toMatchObject({ reason: 'endless-data' });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it("installs the OS on its group's feed without a deployment, and tells no deployment about it", async () => {
    const groups = await env.api(env.tokens.acme, 'GET', '/v1/device-groups');
    const productId = groups.body.find((g: { id: string }) => g.id === group).productId as string;
    const evaluators = await env.api(env.tokens.acme, 'POST', '/v1/device-groups', {
      productId,
      name: 'Evaluators',
      osFeed: 'retail-eval',
    });
    await env.api(env.tokens.acme, 'PUT', `/v1/device-groups/${evaluators.body.id}/devices/${device.security.deviceId}`);
    const uploaded = await env.api(
      env.tokens.acme,
      'POST',
      '/v1/images',
      encodeImage(platformImage('os', '2.5.0', 2, demoFirmwareSigners(), DEMO_HARDWARE)),
    );
    await env.api(env.tokens.acme, 'POST', `/v1/images/${uploaded.body.sha256}/release`, { osFeed: 'retail-eval' });
    const before = activeOs();
    expect(await updater.check()).toMatchObject({
      result: 'updated',
      deployment: null,
      outcomes: [{ result: 'committed', version: '2.5.0' }],
    });
    expect(activeOs()).toEqual({ version: '2.5.0', slot: before.slot === 'a' ? 'b' : 'a' });
    expect(await updater.check()).toEqual({ result: 'up-to-date', deployment: null });
  });

  it('defers an offered update: not offered again until then, and never put off past a day after the first offer', async () => {
    const groups = await env.api(env.tokens.acme, 'GET', '/v1/device-groups');
    const evaluators = groups.body.find((g: { name: string }) => g.name === 'Evaluators').id as string;
    const deployment = await deploy(platformImage('os', '2.6.0', 2, demoFirmwareSigners(), DEMO_HARDWARE), evaluators);
    const offered: string[] = [];
    const busy = new DeviceUpdater(device.security.deviceId, os, client, device.security.store, undefined, (offer) => {
      offered.push(...offer.components);
      return 90;
    });
    const before = activeOs();
    expect(await busy.check()).toEqual({ result: 'deferred', deployment, minutes: 90 });
    expect(offered).toEqual(['os']);
    expect(activeOs()).toEqual(before);
    const deferred = async () =>
      (await env.api(env.tokens.acme, 'GET', `/v1/deployments/${deployment}`)).body.devices[0] as {
        state: string;
        firstOfferedAt: string;
        deferredUntil: string;
      };
    const first = await deferred();
    expect(first.state).toBe('deferred');
    expect(Date.parse(first.deferredUntil) - Date.parse(first.firstOfferedAt)).toBeGreaterThanOrEqual(89 * 60_000);
    expect(Date.parse(first.deferredUntil) - Date.parse(first.firstOfferedAt)).toBeLessThanOrEqual(91 * 60_000);
    // Until then the director leaves it out: the device stays on its feed's OS, which it runs.
    expect(await updater.check()).toEqual({ result: 'up-to-date', deployment: null });

    // First offered 23 h ago (moved back in the database, as a day passing would) and deferred again for a day:
    // the deferral ends a day after the first offer, not a day from now.
    const sql = new pg.Client({ connectionString: env.db.url });
    await sql.connect();
    try {
      await sql.query(
        `UPDATE updates.deployment_devices SET first_offered_at = now() - interval '23 hours', deferred_until = now() - interval '1 minute'
          WHERE deployment_id = $1`,
        [deployment],
      );
      const longer = new DeviceUpdater(device.security.deviceId, os, client, device.security.store, undefined, () => 24 * 60);
      expect(await longer.check()).toMatchObject({ result: 'deferred', deployment });
      // Re-offered (which moves notified_at), deferred for a day: it ends an hour from now, a day after the first offer.
      const bounded = await deferred();
      expect(Date.parse(bounded.deferredUntil) - Date.parse(bounded.firstOfferedAt)).toBeLessThanOrEqual(24 * 3_600_000 + 1_000);
      expect(Date.parse(bounded.deferredUntil) - Date.now()).toBeLessThan(3_600_000 + 60_000);
      // Once the deferral is over, it is offered again, and a device that does not defer installs it.
      await sql.query(`UPDATE updates.deployment_devices SET deferred_until = now() - interval '1 second' WHERE deployment_id = $1`, [
        deployment,
      ]);
    } finally {
      await sql.end();
    }
    expect(await updater.check()).toMatchObject({ result: 'updated', deployment, outcomes: [{ result: 'committed', version: '2.6.0' }] });
    expect((await deferred()).state).toBe('installed');
  });
});
