import { randomBytes } from 'node:crypto';
import {
  DEMO_HARDWARE,
  EmulatedDevice,
  SecureOs,
  demoFirmwareSigners,
  encodeImage,
  manufactureDevice,
  platformImage,
  provisionUpdateRoot,
  realEnvironment,
  runFleet,
  sampleAppImage,
  type DeferralPolicy,
} from '@rampart/emulator';
import {
  TEST_NATS_URL,
  callApi,
  attestationTestEnv,
  createTestDatabase,
  createTestPki,
  removeBusPrefix,
  uniqueBusPrefix,
  waitFor,
  type TestDatabase,
  type TestPki,
} from '@rampart/testing';
import type { SignedImage } from '@rampart/trust';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PlatformCall,
  type ServiceProcess,
  startAttestationWithTenant,
  startFailuresProcess,
  startGatewayProcess,
  startUpdatesProcess,
  updatesKeysEnv,
  gatewayTlsEnv,
} from '../support/service-process.js';

const DEVICES = 20;

interface DeploymentStatus {
  deployment: { id: string; state: string; reason: string | null; currentWave: number; waves: number };
  counts: Record<string, number>;
  devices: Array<{
    deviceId: string;
    wave: number;
    state: string;
    firstOfferedAt: string | null;
    deferredUntil?: string;
    updatedAt: string;
  }>;
}

const DAY_MS = 24 * 3_600_000;

/**
 * Health-gated rollouts end to end, every service its own process on real
 * NATS and PostgreSQL: devices hear of a deployment over MQTT, verify the
 * signed metadata, download over mutual TLS, install, reboot, re-attest on
 * the new boot log and report. A good OS reaches every device wave by wave;
 * a crashing app version stops by itself after its first wave.
 */
describe('rollouts', () => {
  let db: TestDatabase;
  let pki: TestPki;
  const prefix = uniqueBusPrefix('e2e-rollout');
  const processes: ServiceProcess[] = [];
  let updatesUrl = '';
  let failuresUrl = '';
  let devicePort = 0;
  let gatewayPort = 0;
  let tenantToken = '';
  let call: PlatformCall;

  async function updates(method: string, path: string, body?: unknown): Promise<any> {
    const answer = await callApi(updatesUrl, tenantToken, method, path, body);
    expect(answer.status, `${method} ${path}`).toBeLessThan(300);
    return answer.body;
  }

  async function release(image: SignedImage): Promise<string> {
    const uploaded = (await updates('POST', '/v1/images', encodeImage(image))) as { sha256: string };
    await updates('POST', `/v1/images/${uploaded.sha256}/release`);
    return uploaded.sha256;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    pki = await createTestPki();
    const operatorToken = randomBytes(24).toString('hex');
    const attestation = await startAttestationWithTenant(
      attestationTestEnv({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, pki, operatorToken }),
      operatorToken,
    );
    processes.push(attestation.process);
    call = attestation.call;
    tenantToken = attestation.tenantToken;
    const common = { DATABASE_URL: db.url, NATS_URL: TEST_NATS_URL, BUS_PREFIX: prefix };
    const failures = await startFailuresProcess('failures', { ...common, INGEST_FLUSH_MS: '20' });
    processes.push(failures.process);
    failuresUrl = failures.url;
    const gateway = await startGatewayProcess('gateway', {
      NATS_URL: TEST_NATS_URL,
      BUS_PREFIX: prefix,
      ...gatewayTlsEnv(pki),
    });
    processes.push(gateway.process);
    gatewayPort = gateway.mqttPort;
    const started = await startUpdatesProcess('updates', {
      ...common,
      ...updatesKeysEnv(pki),
      ROLLOUT_TICK_MS: '200',
    });
    processes.push(started.process);
    updatesUrl = started.url;
    devicePort = started.devicePort;
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await removeBusPrefix(prefix);
    await db?.drop();
    await pki?.remove();
  });

  it('rolls a good OS out wave by wave to every device, and stops a crashing app after its first wave', async () => {
    const product = (await updates('POST', '/v1/products', { name: 'Sensor hub' })) as { groups: Array<{ id: string; name: string }> };
    const group = product.groups.find((g) => g.name === 'Production')!.id;
    const stop = new AbortController();
    const fleet = runFleet({
      devices: DEVICES,
      ratePerDevice: 0,
      durationMs: 120_000,
      metricsPerReading: 1,
      endpoint: { kind: 'tls', host: '127.0.0.1', port: gatewayPort, servername: 'localhost' },
      manufacturerCa: pki.manufacturerCa,
      gatewayCaPem: pki.platformCa.certificatePem,
      apps: ['sensor'],
      appConfig: { sensor: { intervalMs: 250, crashRate: 1 } },
      healthWindowMs: 1_000,
      heartbeatIntervalMs: 2_000,
      updates: { server: { host: '127.0.0.1', port: devicePort, servername: 'localhost' } },
      beforeStart: async (devices) => {
        for (const device of devices) {
          // Claimed and provisioned with the tenant's update root, as a claiming tool would.
          const claimed = await call('PUT', `/v1/devices/${device.security.deviceId}/claim`, tenantToken);
          provisionUpdateRoot(device.security.store, device.security.deviceId, claimed!['updateRoot']!);
          await updates('PUT', `/v1/device-groups/${group}/devices/${device.security.deviceId}`);
        }
      },
      signal: stop.signal,
    });
    try {
      await waitFor(async () => ((await updates('GET', `/v1/device-groups/${group}/devices`)) as string[]).length === DEVICES, {
        timeoutMs: 30_000,
        describe: 'every device in the group',
      });
      // A good OS, in three waves.
      const os = await release(platformImage('os', '2.0.0', 2, demoFirmwareSigners(), DEMO_HARDWARE));
      const good = (await updates('POST', '/v1/deployments', {
        groupId: group,
        images: [os],
        rollout: { waves: { kind: 'percent', percents: [10, 50, 100] }, deviceTimeoutMinutes: 1 },
      })) as { id: string };
      const status = (id: string) => updates('GET', `/v1/deployments/${id}`) as Promise<DeploymentStatus>;
      await waitFor(async () => (await status(good.id)).deployment.state === 'completed', {
        timeoutMs: 60_000,
        intervalMs: 250,
        describe: 'the OS deployment completed',
      });
      const done = await status(good.id);
      expect(done.counts).toMatchObject({ members: DEVICES, installed: DEVICES, failed: 0 });
      expect(new Set(done.devices.map((d) => d.wave))).toEqual(new Set([0, 1, 2]));

      // An app build that crashes on every tick: its health check fails, it rolls back, and the rollout aborts itself.
      const crashing = await release(sampleAppImage('sensor-1.1', demoFirmwareSigners().apps, DEMO_HARDWARE));
      const bad = (await updates('POST', '/v1/deployments', {
        groupId: group,
        images: [os, crashing],
        rollout: {
          waves: { kind: 'percent', percents: [10, 100] },
          abort: [{ failureType: 'ALL', minExecuted: 2, thresholdPercentage: 50 }],
          deviceTimeoutMinutes: 1,
        },
      })) as { id: string };
      await waitFor(async () => (await status(bad.id)).deployment.state === 'aborted', {
        timeoutMs: 60_000,
        intervalMs: 250,
        describe: 'the crashing deployment aborted itself',
      });
      const aborted = await status(bad.id);
      expect(aborted.deployment).toMatchObject({ currentWave: 0, reason: expect.stringMatching(/failed or timed out/) });
      const received = aborted.devices.filter((d) => d.state !== 'pending');
      expect(received.length).toBeLessThanOrEqual(Math.ceil(DEVICES * 0.1));
      expect(received.every((d) => d.wave === 0)).toBe(true);

      // The failures service's views of that wave and of the group, their devices named by the updates service.
      const view = async (path: string): Promise<any> => {
        const response = await fetch(`${failuresUrl}${path}`, { headers: { authorization: `Bearer ${tenantToken}` } });
        expect(response.status, path).toBe(200);
        return response.json();
      };
      await waitFor(
        async () =>
          (
            (await view(`/v1/stability?component=app:sensor&deployment=${bad.id}&wave=0`)) as {
              cohorts: Array<{ version: string; devices: number }>;
            }
          ).cohorts.some((c) => c.version === '1.1.0' && c.devices === received.length),
        { timeoutMs: 20_000, describe: "the first wave's crashes in its stability view" },
      );
      const wave = (await view(`/v1/stability?component=app:sensor&deployment=${bad.id}&wave=0`)) as {
        cohorts: Array<{ version: string; devices: number; crashFreeDevices: number }>;
      };
      expect(wave.cohorts.find((c) => c.version === '1.1.0')).toMatchObject({ devices: received.length, crashFreeDevices: 0 });
      const groupBuckets = (await view(`/v1/failure-buckets?deviceGroup=${group}`)) as Array<{
        kind: string;
        version: string;
        devices: number;
      }>;
      expect(groupBuckets).toContainEqual(expect.objectContaining({ kind: 'app-crash', version: '1.1.0', devices: received.length }));
    } finally {
      stop.abort();
    }
    const report = await fleet;
    expect(report.updatesInstalled).toBeGreaterThanOrEqual(DEVICES);
  });

  it('shows a deferring device as deferred, offers it nothing until then nor past a day after the first offer, and it installs later', async () => {
    const product = (await updates('POST', '/v1/products', { name: 'Deferral hub' })) as { groups: Array<{ id: string; name: string }> };
    const group = product.groups.find((g) => g.name === 'Production')!.id;
    const os = await release(platformImage('os', '3.0.0', 3, demoFirmwareSigners(), DEMO_HARDWARE));
    // Each device's answer to its n-th offer: `prompt` installs at once; `later` puts its first offer off for a
    // minute (the least it may ask) and then installs; `stubborn` does the same, then asks for a whole day.
    const offers = new Map<string, number>();
    const policies: Record<string, (offer: number) => number | undefined> = {
      prompt: () => undefined,
      later: (n) => (n === 1 ? 1 : undefined),
      stubborn: (n) => (n === 1 ? 1 : 1440),
    };
    const devices: Record<string, EmulatedDevice> = {};
    for (const [name, policy] of Object.entries(policies)) {
      const made = await manufactureDevice(pki.manufacturerCa);
      const claimed = await call('PUT', `/v1/devices/${made.security.deviceId}/claim`, tenantToken);
      provisionUpdateRoot(made.security.store, made.security.deviceId, claimed!['updateRoot']!);
      await updates('PUT', `/v1/device-groups/${group}/devices/${made.security.deviceId}`);
      const deferral: DeferralPolicy = () => {
        const n = (offers.get(name) ?? 0) + 1;
        offers.set(name, n);
        return policy(n);
      };
      devices[name] = new EmulatedDevice(
        {
          deviceId: made.security.deviceId,
          endpoint: { kind: 'tls', host: '127.0.0.1', port: gatewayPort, servername: 'localhost' },
          identity: {
            security: made.security,
            identityCertificatePem: made.identityCertificatePem,
            gatewayCaPem: pki.platformCa.certificatePem,
          },
          ratePerSecond: 0,
          metricsPerReading: 1,
          os: (sinks) => new SecureOs(made.security, realEnvironment, sinks, { healthWindowMs: 300 }),
          updates: { server: { host: '127.0.0.1', port: devicePort, servername: 'localhost' }, deferral },
        },
        realEnvironment,
      );
    }
    const { prompt, later, stubborn } = devices as Record<'prompt' | 'later' | 'stubborn', EmulatedDevice>;
    const status = async (id: string) => (await updates('GET', `/v1/deployments/${id}`)) as DeploymentStatus;
    const row = (s: DeploymentStatus, d: EmulatedDevice) => s.devices.find((x) => x.deviceId === d.deviceId)!;
    try {
      for (const d of Object.values(devices)) d.start();
      await waitFor(() => Object.values(devices).every((d) => d.attested), { timeoutMs: 30_000, describe: 'every device attested' });
      const deployment = (await updates('POST', '/v1/deployments', {
        groupId: group,
        images: [os],
        rollout: { waves: { kind: 'percent', percents: [100] }, deviceTimeoutMinutes: 5 },
      })) as { id: string };

      // The deployment's status shows each deferral, until when, and the prompt device's install.
      await waitFor(
        async () => {
          const s = await status(deployment.id);
          return row(s, prompt).state === 'installed' && row(s, later).state === 'deferred' && row(s, stubborn).state === 'deferred';
        },
        { timeoutMs: 60_000, intervalMs: 250, describe: 'one device installed, two deferred' },
      );
      const first = await status(deployment.id);
      expect(first.counts).toMatchObject({ members: 3, installed: 1, deferred: 2 });
      for (const d of [later, stubborn]) {
        const r = row(first, d);
        const putOff = Date.parse(r.deferredUntil!) - Date.parse(r.updatedAt);
        expect(putOff, d.deviceId).toBeGreaterThan(55_000);
        expect(putOff, d.deviceId).toBeLessThanOrEqual(60_000);
        expect(d.os!.booted.versions.os).toBe('1.0.0');
      }
      expect(prompt.os!.booted.versions.os).toBe('3.0.0');

      // Asking again while it is put off (a reboot re-attests and checks): not offered, nothing installed.
      const checks = later.stats.updateChecksDone;
      await later.reboot();
      await waitFor(() => later.attested && later.stats.updateChecksDone > checks, {
        timeoutMs: 30_000,
        describe: 'a check while deferred',
      });
      expect(offers.get('later')).toBe(1);
      expect(later.os!.booted.versions.os).toBe('1.0.0');
      expect(row(await status(deployment.id), later).state).toBe('deferred');

      // When the minute is up the platform offers it again: `later` installs; `stubborn` asks for a day and gets
      // only what is left of the day since its first offer.
      await waitFor(
        async () => {
          const s = await status(deployment.id);
          return row(s, later).state === 'installed' && offers.get('stubborn') === 2 && row(s, stubborn).state === 'deferred';
        },
        { timeoutMs: 150_000, intervalMs: 500, describe: 'the deferral over: one installed, one put off again' },
      );
      await waitFor(() => later.os!.booted.versions.os === '3.0.0', { timeoutMs: 30_000, describe: 'OS 3.0.0 running on the device' });
      const after = await status(deployment.id);
      const bounded = row(after, stubborn);
      const firstOffer = Date.parse(bounded.firstOfferedAt!);
      const until = Date.parse(bounded.deferredUntil!);
      // Never past a day after the first offer, though asked for a day a minute later.
      expect(until).toBeLessThanOrEqual(firstOffer + DAY_MS);
      expect(until).toBeLessThan(Date.parse(bounded.updatedAt) + DAY_MS - 55_000);
      expect(stubborn.os!.booted.versions.os).toBe('1.0.0');
      expect(after.counts).toMatchObject({ installed: 2, deferred: 1 });
      expect(after.deployment.state).toBe('active');
      // Asked twice in all: deferred once, installed on the second offer.
      expect(offers.get('later')).toBe(2);
    } finally {
      await Promise.all(Object.values(devices).map((d) => d.stop()));
    }
  });
});
