import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manufactureDevice, runFleet } from '@rampart/emulator';
import mqtt, { type IClientOptions } from 'mqtt';
import { createTestTenantIssuer } from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedPlatform } from '../src/embedded-platform.js';
import { startTestPlatform } from './support/test-platform.js';

/**
 * The offline grace policy (README, "Offline devices"): the gateway gives an
 * expired operational certificate no grace. A device back after two days
 * offline reconnects on its manufacturer identity, attests against today's
 * policy, and only then gets a fresh certificate.
 */
describe('offline grace policy', () => {
  let dir: string;
  let platform: EmbeddedPlatform;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-offline-'));
    platform = await startTestPlatform(dir);
  });

  afterAll(async () => {
    await platform?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('makes a device whose certificate expired while offline attest again before it may send telemetry', async () => {
    const issue = await createTestTenantIssuer(platform.pki.platformCa, platform.tenant.id);
    // The gateway itself refuses an expired certificate during the TLS handshake: no grace there.
    const stale = await manufactureDevice(platform.pki.manufacturerCa);
    const expired = issue(stale, -30_000);
    const refused = mqtt.connect({
      protocol: 'mqtts',
      host: '127.0.0.1',
      port: platform.gateway.mqttPort,
      protocolVersion: 4,
      clientId: stale.security.deviceId,
      reconnectPeriod: 0,
      servername: 'localhost',
      secureContext: stale.security.tlsContext(`${expired.certificatePem}${expired.chainPem}`, platform.pki.platformCa.certificatePem),
    } as IClientOptions);
    await expect(
      new Promise((resolve, reject) => {
        refused.once('connect', resolve);
        refused.once('error', reject);
        refused.once('close', () => reject(new Error('closed')));
      }),
    ).rejects.toThrow();
    refused.end(true);
    const report = await runFleet({
      devices: 3,
      ratePerDevice: 5,
      durationMs: 3_000,
      metricsPerReading: 2,
      endpoint: { kind: 'tls', host: '127.0.0.1', port: platform.gateway.mqttPort, servername: 'localhost' },
      manufacturerCa: platform.pki.manufacturerCa,
      gatewayCaPem: platform.pki.platformCa.certificatePem,
      beforeStart: async (devices) => {
        for (const d of devices)
          await platform.platformClient.expect(
            'PUT',
            `/v1/devices/${d.security.deviceId}/claim`,
            platform.tenant.adminToken,
            undefined,
            [200],
          );
      },
      // Each device comes back holding a certificate that has expired.
      preIssue: (device) => Promise.resolve(issue(device, -30_000)),
    });
    expect(report.devicesAttested).toBe(3);
    expect(report.unacknowledged).toBe(0);
    const log = (await platform.platformClient.expect('GET', '/v1/attestations', platform.tenant.adminToken, undefined, [200])) as Array<{
      pass: boolean;
    }>;
    expect(log.filter((v) => v.pass)).toHaveLength(3);
  });
});
