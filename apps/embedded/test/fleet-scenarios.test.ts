import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFleet, type FleetReport, type ScenarioName } from '@rampart/emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFleetReports } from '../src/commands/fleet.js';
import type { EmbeddedPlatform } from '../src/embedded-platform.js';
import { startTestPlatform } from './support/test-platform.js';

const DEVICES = 8;

/**
 * Every load scenario of `rampart fleet run`, small and short, against the
 * embedded platform: what each one does must show in its report, and the
 * fleet must end healthy (attested, nothing left unacknowledged).
 */
describe('fleet scenarios', () => {
  let dir: string;
  let platform: EmbeddedPlatform;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-scenarios-'));
    platform = await startTestPlatform(dir);
  });

  afterAll(async () => {
    await platform?.close();
    await rm(dir, { recursive: true, force: true });
  });

  function run(scenario: ScenarioName, durationMs = 6_000): Promise<FleetReport> {
    return runFleet({
      devices: DEVICES,
      ratePerDevice: 2,
      durationMs,
      metricsPerReading: 2,
      endpoint: { kind: 'tls', host: '127.0.0.1', port: platform.gateway.mqttPort, servername: 'localhost' },
      manufacturerCa: platform.pki.manufacturerCa,
      gatewayCaPem: platform.pki.platformCa.certificatePem,
      // As `rampart up` runs them: devices fused to the data folder's firmware keys, which a scenario's images must be signed with.
      firmwareSigners: platform.firmware.signers,
      scenario,
      healthWindowMs: 1_500,
      reconnectSpreadMs: 1_500,
      beforeStart: async (devices) => {
        for (const d of devices) {
          await platform.platformClient.expect(
            'PUT',
            `/v1/devices/${d.security.deviceId}/claim`,
            platform.tenant.adminToken,
            undefined,
            [200],
          );
        }
      },
    });
  }

  function healthy(report: FleetReport): void {
    expect(report.devicesConnected).toBe(DEVICES);
    expect(report.devicesAttested).toBe(DEVICES);
    expect(report.unacknowledged).toBe(0);
    expect(report.acknowledged).toBe(report.published);
  }

  it('steady: a timeline of every second, and a report page with its charts', async () => {
    const report = await run('steady', 4_000);
    healthy(report);
    expect(report.timeline.length).toBeGreaterThanOrEqual(4);
    expect(report.timeline.reduce((n, p) => n + p.acknowledged, 0)).toBe(report.acknowledged);
    const written = await writeFleetReports(report, join(dir, 'report'));
    const html = await readFile(written.html, 'utf8');
    expect(html).toContain('Fleet report: steady');
    expect(html.match(/<svg /g)).toHaveLength(4);
    expect(JSON.parse(await readFile(written.json, 'utf8'))).toMatchObject({ scenario: 'steady', devices: DEVICES });
  });

  it('connect-storm: every device connects within a second and attests', async () => {
    const report = await run('connect-storm', 4_000);
    healthy(report);
  });

  it('attestation-storm: every device reboots at once and attests again', async () => {
    const report = await run('attestation-storm');
    healthy(report);
    expect(report.reboots).toBe(DEVICES);
    expect(report.events.map((e) => e.event)).toEqual(['every device reboots']);
  });

  it('reconnect-storm: every connection drops and comes back', async () => {
    const report = await run('reconnect-storm');
    healthy(report);
    expect(report.reconnects).toBeGreaterThanOrEqual(DEVICES);
  });

  it('crash-wave: the crashing build is installed, reported, rolled back, and devices attest again', async () => {
    const report = await run('crash-wave', 8_000);
    healthy(report);
    // Which devices crash inside their health window is chance (30 % per tick); with 8 devices some always do.
    expect(report.failureReportsSent).toBeGreaterThanOrEqual(1);
    expect(report.events.map((e) => e.event)).toEqual(['sensor 1.1.0 released to every device', 'updates settled']);
  });

  it('power-loss-update: every device loses power mid-update, then boots a verified slot and attests', async () => {
    const report = await run('power-loss-update', 8_000);
    healthy(report);
    expect(report.events.map((e) => e.event)).toEqual(['update with power loss', 'every device powered on again']);
    // Power is cut inside the update, so only a device that took the image reboots: it was signed with the fleet's keys.
    expect(report.reboots).toBeGreaterThanOrEqual(DEVICES);
  });
});
