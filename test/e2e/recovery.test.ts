import { randomBytes } from 'node:crypto';
import { request, type RequestOptions } from 'node:https';
import type { SecureContext } from 'node:tls';
import {
  DEMO_HARDWARE,
  EmulatedDevice,
  SecureOs,
  demoFirmware,
  demoFirmwareSigners,
  encodeImage,
  manufactureDevice,
  platformImage,
  provisionUpdateRoot,
  realEnvironment,
  sampleAppImage,
  type ManufacturedDevice,
} from '@rampart/emulator';
import {
  TEST_NATS_URL,
  callApi,
  attestationTestEnv,
  createTestDatabase,
  createTestPki,
  queryDatabase,
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
  gatewayTlsEnv,
  scrapeMetric,
  startAttestationWithTenant,
  startGatewayProcess,
  startUpdatesProcess,
  updatesKeysEnv,
} from '../support/service-process.js';

const GOOD_DEVICES = 4;

/**
 * The recovery path end to end, each service its own process on real NATS and PostgreSQL: the platform
 * raises the OS security floor over a live fleet; on their next attestation the devices are refused, fetch
 * the newer OS on their IDevID from the update server's recovery path (by themselves), install it, reboot and
 * attest again. A device whose bootloader is not known-good is refused recovery and never served.
 */
describe('recovery of quarantined devices', () => {
  let db: TestDatabase;
  let pki: TestPki;
  const prefix = uniqueBusPrefix('e2e-recovery');
  const processes: ServiceProcess[] = [];
  const devices: EmulatedDevice[] = [];
  let updates: Awaited<ReturnType<typeof startUpdatesProcess>>;
  let gatewayPort = 0;
  let operatorToken = '';
  let tenantToken = '';
  let call: PlatformCall;

  async function tenantApi(method: string, path: string, body?: unknown): Promise<any> {
    const answer = await callApi(updates.url, tenantToken, method, path, body);
    expect(answer.status, `${method} ${path}`).toBeLessThan(300);
    return answer.body;
  }

  async function release(image: SignedImage, osFeed?: 'retail'): Promise<string> {
    const { sha256 } = (await tenantApi('POST', '/v1/images', encodeImage(image))) as { sha256: string };
    await tenantApi('POST', `/v1/images/${sha256}/release`, osFeed === undefined ? undefined : { osFeed });
    return sha256;
  }

  /** A claimed device; `updates: false` makes one that never takes the recovery path by itself (to probe it by hand). */
  async function device(made: ManufacturedDevice, options: { updates: boolean } = { updates: true }): Promise<EmulatedDevice> {
    // Claimed and given the tenant's update root, as a claiming tool does: recovery verifies against it.
    const claimed = await call('PUT', `/v1/devices/${made.security.deviceId}/claim`, tenantToken);
    provisionUpdateRoot(made.security.store, made.security.deviceId, claimed!['updateRoot']!);
    const emulated = new EmulatedDevice(
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
        ...(options.updates ? { updates: { server: { host: '127.0.0.1', port: updates.devicePort, servername: 'localhost' } } } : {}),
      },
      realEnvironment,
    );
    devices.push(emulated);
    return emulated;
  }

  /** One request to the update server on a device's IDevID, as a hostile or curious client would make it. */
  function asIdentity(
    made: ManufacturedDevice,
    method: string,
    path: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: string }> {
    const context: SecureContext = made.security.tlsContext(made.identityCertificatePem, pki.platformCa.certificatePem);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: updates.devicePort,
          servername: 'localhost',
          method,
          path,
          headers,
          agent: false,
          secureContext: context,
        } as RequestOptions,
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  const verdicts = async (deviceId: string) =>
    (
      (await call('GET', '/v1/attestations?limit=200', tenantToken)) as unknown as Array<{
        deviceId: string;
        pass: boolean;
        reasons: string[];
      }>
    )
      .filter((v) => v.deviceId === deviceId)
      .reverse();

  beforeAll(async () => {
    db = await createTestDatabase();
    pki = await createTestPki();
    operatorToken = randomBytes(24).toString('hex');
    const attestation = await startAttestationWithTenant(
      attestationTestEnv({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, pki, operatorToken }),
      operatorToken,
    );
    processes.push(attestation.process);
    call = attestation.call;
    tenantToken = attestation.tenantToken;
    const gateway = await startGatewayProcess('gateway', { NATS_URL: TEST_NATS_URL, BUS_PREFIX: prefix, ...gatewayTlsEnv(pki) });
    processes.push(gateway.process);
    gatewayPort = gateway.mqttPort;
    updates = await startUpdatesProcess('updates', {
      DATABASE_URL: db.url,
      NATS_URL: TEST_NATS_URL,
      BUS_PREFIX: prefix,
      ...updatesKeysEnv(pki),
    });
    processes.push(updates.process);
  });

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.stop()));
    await Promise.all(processes.map((p) => p.stop()));
    await removeBusPrefix(prefix);
    await db?.drop();
    await pki?.remove();
  });

  it('devices refused for an OS below a raised floor, then for a revoked OS, recover by themselves and attest again; a tampered bootloader never does', async () => {
    // OS 2.0.0 (security version 2) released on the retail feed. The devices are in no device group, so nothing
    // offers it to them: only the recovery path will.
    const os2 = await release(platformImage('os', '2.0.0', 2, demoFirmwareSigners(), DEMO_HARDWARE), 'retail');

    const good = await Promise.all(Array.from({ length: GOOD_DEVICES }, async () => device(await manufactureDevice(pki.manufacturerCa))));
    // A bootloader the platform key signed but never released (a leaked debug build, an implant): measured
    // boot records it, so its hash is unknown to attestation — beside an OS that is also below the floor.
    const factory = demoFirmware();
    const implant = demoFirmwareSigners().platform.sign(
      { component: 'bootloader', version: '1.0.0', securityVersion: 1, hardware: DEMO_HARDWARE },
      Buffer.from('rampart emulated bootloader 1.0.0 + implant'),
    );
    const tamperedMade = await manufactureDevice(pki.manufacturerCa, { firmware: { ...factory, bootloader: implant } });
    const tampered = await device(tamperedMade);

    for (const d of [...good, tampered]) d.start();
    await waitFor(() => good.every((d) => d.attested), { timeoutMs: 30_000, describe: 'the good devices attested on OS 1.0.0' });
    await waitFor(() => tampered.stats.attestationFailures >= 1 && tampered.stats.recoveryAttempts >= 1, {
      timeoutMs: 30_000,
      describe: 'the tampered device refused, and its recovery attempt answered',
    });
    await waitFor(() => tampered.stats.recoveryRefusals >= 1, { timeoutMs: 15_000, describe: 'its recovery refused' });
    expect(good.every((d) => d.stats.recoveryAttempts === 0)).toBe(true);

    // The platform raises the OS floor. Each device's next attestation (a reboot here; daily in the field) is refused.
    await call('PUT', '/v1/security-floors/os', operatorToken, { minVersion: 2 });
    await Promise.all(good.map((d) => d.reboot()));

    await waitFor(() => good.every((d) => d.stats.recoveries === 1 && d.attested && d.stats.attestations >= 2), {
      timeoutMs: 90_000,
      intervalMs: 250,
      describe: 'every good device recovered to OS 2.0.0 and attested again',
    });
    for (const d of good) {
      expect(d.os!.booted.versions.os).toBe('2.0.0');
      expect(d.os!.booted.securityVersions['os']).toBe(2);
      // Attested, refused for the floor, then attested again after the recovery.
      const log = await verdicts(d.deviceId);
      const refusal = log.findIndex((v) => !v.pass);
      expect(refusal, d.deviceId).toBeGreaterThan(0);
      expect(log[refusal]!.reasons).toEqual(['SECURITY_VERSION_BELOW_FLOOR']);
      expect(log.slice(refusal + 1).some((v) => v.pass)).toBe(true);
    }

    // The tampered device was never served: still OS 1.0.0, never attested, every recovery attempt refused.
    expect(tampered.attested).toBe(false);
    expect(tampered.stats.attestations).toBe(0);
    expect(tampered.stats.recoveries).toBe(0);
    expect(tampered.os!.booted.versions.os).toBe('1.0.0');
    expect(tampered.stats.recoveryRefusals).toBe(tampered.stats.recoveryAttempts);
    expect(await asIdentity(tamperedMade, 'GET', `/v1/recovery/images/${os2}`)).toMatchObject({ status: 403 });

    // The refusals were logged and counted, under the identity credential.
    await updates.process.waitForLog(
      (l) => l.msg === 'device request refused' && l['code'] === 'NOT_RECOVERABLE' && l['deviceId'] === tampered.deviceId,
    );
    expect(
      await scrapeMetric(updates.url, 'rampart_updates_device_refusals_total', 'code="NOT_RECOVERABLE",credential="identity"'),
    ).toBeGreaterThanOrEqual(tampered.stats.recoveryRefusals);

    // A flaw is found in OS 2.0.0: the tenant revokes it and puts a fix of the same security version on the
    // retail feed. Refused for the revoked measurement, the devices recover to the fix by themselves.
    const fixed = await release(platformImage('os', '2.0.1', 2, demoFirmwareSigners(), DEMO_HARDWARE), 'retail');
    await tenantApi('POST', `/v1/images/${os2}/revoke`);
    const revokedMeasurement = ((await tenantApi('GET', `/v1/images/${os2}`)) as { measurement: string }).measurement;
    await waitFor(
      async () =>
        (
          await queryDatabase<{ status: string }>(
            db.url,
            `SELECT status FROM attestation.measurements WHERE stage = 'os' AND sha256 = $1`,
            [revokedMeasurement],
          )
        )[0]?.status === 'revoked',
      { timeoutMs: 15_000, describe: 'the attestation service knows OS 2.0.0 is revoked' },
    );
    await Promise.all(good.map((d) => d.reboot()));
    await waitFor(() => good.every((d) => d.stats.recoveries === 2 && d.attested && d.os!.booted.versions.os === '2.0.1'), {
      timeoutMs: 90_000,
      intervalMs: 250,
      describe: 'every good device recovered from the revoked OS to 2.0.1 and attested again',
    });
    for (const d of good) {
      const log = await verdicts(d.deviceId);
      expect(log.at(-1)!.pass, d.deviceId).toBe(true);
      expect(
        log.some((v) => v.reasons.includes('MEASUREMENT_REVOKED')),
        d.deviceId,
      ).toBe(true);
    }
    expect(fixed).not.toBe(os2);
  });

  it('answers hostile requests on the recovery path with 4xx and serves a granted device nothing but a newer OS', async () => {
    // A device that will not recover by itself, refused for the floor raised above: it holds a grant.
    const made = await manufactureDevice(pki.manufacturerCa);
    const held = await device(made, { updates: false });
    held.start();
    await waitFor(() => held.stats.attestationFailures >= 1, { timeoutMs: 30_000, describe: 'the device refused for the floor' });
    const app = await release(sampleAppImage('sensor-1.1', demoFirmwareSigners().apps, DEMO_HARDWARE));
    const os3 = await release(platformImage('os', '3.0.0', 3, demoFirmwareSigners(), DEMO_HARDWARE));
    const byVersion = async (version: string) =>
      ((await tenantApi('GET', '/v1/images?component=os')) as Array<{ sha256: string; version: string }>).find(
        (i) => i.version === version,
      )!.sha256;
    const revoked = await byVersion('2.0.0');
    const os2 = await byVersion('2.0.1');

    // What it may have: the tenant's metadata to verify with, and a director naming the newest retail OS alone.
    const director = await asIdentity(made, 'GET', `/v1/recovery/metadata/director.json?hardware=${DEMO_HARDWARE}`);
    expect(director.status).toBe(200);
    const signed = JSON.parse(director.body) as {
      signed: { targets: Record<string, { custom: { component: string } }>; custom?: unknown };
    };
    expect(Object.values(signed.signed.targets).map((t) => t.custom.component)).toEqual(['os']);
    expect(Object.keys(signed.signed.targets)).toEqual([`images/${os2}`]);
    expect((await asIdentity(made, 'GET', '/v1/recovery/metadata/1.root.json')).status).toBe(200);
    expect((await asIdentity(made, 'HEAD', `/v1/recovery/images/${os2}`)).status).toBe(200);
    expect((await asIdentity(made, 'GET', `/v1/recovery/images/${os2}`, { range: 'bytes=0-9' })).status).toBe(206);

    // Nothing else: an app, an OS not on the retail feed, a revoked OS, a hash that is no image — all as if they did not exist.
    for (const sha of [app, os3, revoked, 'f'.repeat(64)]) {
      expect((await asIdentity(made, 'GET', `/v1/recovery/images/${sha}`)).status, sha).toBe(404);
    }
    // The attested device's paths, reports and anything not a recovery path: refused on an IDevID.
    for (const [method, path] of [
      ['GET', '/v1/metadata/timestamp.json'],
      ['GET', `/v1/images/${os2}`],
      ['POST', '/v1/reports'],
      ['POST', `/v1/recovery/images/${os2}`],
      ['DELETE', '/v1/recovery/metadata/director.json'],
      ['GET', '/v1/recovery/../metadata/targets.json'],
      ['GET', '/v1/recovery/metadata/%00'],
      ['GET', '/V1/RECOVERY/METADATA/director.json'],
      ['GET', `/v1/recovery/images/${os2.toUpperCase()}`],
    ] as const) {
      const answer = await asIdentity(made, method, path);
      expect(answer.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
      expect(answer.status, `${method} ${path}`).toBeLessThan(500);
    }
    expect((await asIdentity(made, 'GET', `/v1/recovery/images/${os2}`, { range: 'bytes=oops' })).status).toBe(416);
    expect((await asIdentity(made, 'GET', `/v1/recovery/images/${os2}`, { range: 'bytes=99999999-' })).status).toBe(416);
    // No hardware named: no OS can be picked, so the director names nothing.
    const bare = JSON.parse((await asIdentity(made, 'GET', '/v1/recovery/metadata/director.json')).body) as {
      signed: { targets: Record<string, unknown> };
    };
    expect(bare.signed.targets).toEqual({});

    // An unclaimed device, and a revoked one, have no grant.
    const stranger = await manufactureDevice(pki.manufacturerCa);
    expect(await asIdentity(stranger, 'GET', '/v1/recovery/metadata/1.root.json')).toMatchObject({ status: 403 });
    await call('POST', `/v1/devices/${made.security.deviceId}/revoke`, tenantToken, { reason: 'lost' });
    await waitFor(async () => (await asIdentity(made, 'GET', `/v1/recovery/images/${os2}`)).status === 403, {
      timeoutMs: 15_000,
      describe: 'the revoked device refused recovery',
    });
  });
});
