import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { DeviceFailureReport } from '@rampart/contracts';
import {
  DEMO_HARDWARE,
  DeviceUpdater,
  SecureOs,
  UpdateClient,
  demoFirmwareSigners,
  manufactureDevice,
  platformImage,
  realEnvironment,
  type ManufacturedDevice,
} from '@rampart/emulator';
import { createTestTenantIssuer, type TestOperationalCertificate } from '@rampart/testing';
import { ImageSigner, encodeImage, type SignedImage } from '@rampart/trust';
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
  let group = '';
  const failures: DeviceFailureReport[] = [];

  beforeAll(async () => {
    env = await startUpdatesEnvironment('devupdate');
    device = await manufactureDevice(env.pki.manufacturerCa);
    await env.claim(env.tokens.acme, device.security.deviceId);
    const issue = await createTestTenantIssuer(env.pki.platformCa, 'acme');
    const certificate: TestOperationalCertificate = issue(device);
    os = new SecureOs(
      device.security,
      realEnvironment,
      { telemetry: () => undefined, failure: (r) => failures.push(r), heartbeat: () => undefined },
      { healthWindowMs: 100 },
    );
    await os.powerOn();
    const client = new UpdateClient(
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

  /** Uploads, releases and deploys one image to the device's group. */
  async function deploy(image: SignedImage): Promise<string> {
    const uploaded = await env.api(env.tokens.acme, 'POST', '/v1/images', encodeImage(image));
    expect(uploaded.status).toBe(201);
    await env.api(env.tokens.acme, 'POST', `/v1/images/${uploaded.body.sha256}/release`);
    const deployment = await env.api(env.tokens.acme, 'POST', '/v1/deployments', { groupId: group, images: [uploaded.body.sha256] });
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
});
