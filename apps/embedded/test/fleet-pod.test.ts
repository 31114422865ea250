import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetRun } from '../src/commands/fleet.js';
import { fleetPod, ordinalFromHostname } from '../src/commands/fleet-pod.js';
import type { EmbeddedPlatform } from '../src/embedded-platform.js';
import { startTestPlatform } from './support/test-platform.js';

/**
 * The emulator pod: configured only by its environment, its devices'
 * identities kept on the state volume, so a restarted pod comes back as
 * the same devices — and attests and publishes as them.
 */
describe('emulator pod', () => {
  let dir: string;
  let platform: EmbeddedPlatform;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-pod-'));
    platform = await startTestPlatform(join(dir, 'platform'));
  });

  afterAll(async () => {
    await platform?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a bad environment and names every bad key', async () => {
    await expect(fleetPod({ GATEWAY: 'no-port', RATE: 'fast' })).rejects.toThrow(
      /GATEWAY[\s\S]*MANUFACTURER_CA_CERT_FILE|MANUFACTURER_CA_CERT_FILE[\s\S]*GATEWAY/,
    );
  });

  it('refuses a demo setup without what it needs, and one firmware signing key without the other, naming them', async () => {
    const base = { GATEWAY: 'gw:8883', GATEWAY_CA_FILE: '/a', MANUFACTURER_CA_CERT_FILE: '/b', MANUFACTURER_CA_KEY_FILE: '/c' };
    const refused = (env: Record<string, string>) =>
      fleetPod({ ...base, ...env }).then(
        () => '',
        (error: Error) => error.message,
      );
    const demo = await refused({ DEMO_SETUP: 'true' });
    for (const key of ['PLATFORM_ADMIN_TOKEN', 'ATTESTATION_API', 'STATE_DIR']) expect(demo).toContain(key);
    // With a tenant token the demo setup only releases measurements: no volume is needed for a token.
    expect(
      await refused({ DEMO_SETUP: 'true', TENANT_TOKEN: 't', PLATFORM_ADMIN_TOKEN: 'p', ATTESTATION_API: 'http://a:1' }),
    ).not.toContain('STATE_DIR');
    expect(await refused({ FIRMWARE_PLATFORM_KEY_FILE: '/k' })).toContain(
      'FIRMWARE_APPS_KEY_FILE: set both firmware signing keys, or neither',
    );
    expect(await refused({ DEMO_TENANT: 'Not A Tenant' })).toContain('DEMO_TENANT');
  });

  it('keeps its devices across a restart on the same state volume', async () => {
    const environment = {
      GATEWAY: `127.0.0.1:${platform.gateway.mqttPort}`,
      DEVICES_PER_POD: '3',
      POD_ORDINAL: '2',
      STATE_DIR: join(dir, 'state'),
      MANUFACTURER_CA_CERT_FILE: join(platform.pkiDir, 'manufacturer-ca.crt'),
      MANUFACTURER_CA_KEY_FILE: join(platform.pkiDir, 'manufacturer-ca.key'),
      GATEWAY_CA_FILE: join(platform.pkiDir, 'platform-ca.crt'),
      RATE: '2',
      DURATION_MS: '2500',
      ATTESTATION_API: platform.attestation.url,
      TENANT_TOKEN: platform.tenant.adminToken,
      REPORT_DIR: join(dir, 'reports'),
    };
    const report = async () =>
      JSON.parse(await readFile(join(dir, 'reports', 'pod-2', 'fleet-report.json'), 'utf8')) as { deviceIds: string[] };
    expect(await fleetPod(environment)).toBe(0);
    const first = (await report()).deviceIds;
    expect(await fleetPod(environment)).toBe(0);
    expect((await report()).deviceIds).toEqual(first);
    expect(first).toHaveLength(3);
  });

  it('runs TPM devices the way a user does after `rampart up`: the platform already trusts the PKI folder’s TPM vendor', async () => {
    const reportDir = join(dir, 'tpm-fleet');
    const code = await fleetRun({
      gateway: `127.0.0.1:${platform.gateway.mqttPort}`,
      pkiDir: platform.pkiDir,
      devices: 2,
      tpmDevices: 1,
      rate: 2,
      durationMs: 2_000,
      metrics: 2,
      api: platform.attestation.url,
      token: platform.tenant.adminToken,
      output: 'json',
      scenario: 'steady',
      reportDir,
    });
    const report = JSON.parse(await readFile(join(reportDir, 'fleet-report.json'), 'utf8')) as Record<string, unknown>;
    expect(report).toMatchObject({ devices: 2, tpmDevices: 1, devicesAttested: 2, attestationFailures: 0, attestorErrors: 0 });
    expect(code).toBe(0);
  });

  it("takes part in updates with UPDATE_SERVER: its devices verify and keep their tenant's signed metadata", async () => {
    await platform.updates.metadata.ensure(platform.tenant.id);
    const state = join(dir, 'updating');
    expect(
      await fleetPod({
        GATEWAY: `127.0.0.1:${platform.gateway.mqttPort}`,
        DEVICES_PER_POD: '2',
        POD_ORDINAL: '0',
        STATE_DIR: state,
        MANUFACTURER_CA_CERT_FILE: join(platform.pkiDir, 'manufacturer-ca.crt'),
        MANUFACTURER_CA_KEY_FILE: join(platform.pkiDir, 'manufacturer-ca.key'),
        GATEWAY_CA_FILE: join(platform.pkiDir, 'platform-ca.crt'),
        RATE: '1',
        DURATION_MS: '3000',
        ATTESTATION_API: platform.attestation.url,
        TENANT_TOKEN: platform.tenant.adminToken,
        UPDATE_SERVER: `127.0.0.1:${platform.updates.devicePort}`,
        UPDATE_SERVER_SERVERNAME: 'localhost',
        REPORT_DIR: join(dir, 'reports'),
      }),
    ).toBe(0);
    // Each device checked after attesting: it walked the tenant's TUF metadata and kept what it verified.
    for (const device of ['0', '1']) {
      const trusted = JSON.parse(await readFile(join(state, device, 'update-metadata'), 'utf8')) as { root: string; timestamp?: string };
      expect(JSON.parse(trusted.root).signed._type).toBe('root');
      expect(trusted.timestamp).toBeDefined();
    }
  });

  it('takes its ordinal from a StatefulSet host name', () => {
    expect(ordinalFromHostname('rampart-fleet-7')).toBe(7);
    expect(ordinalFromHostname('laptop')).toBe(0);
  });
});
