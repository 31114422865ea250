import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject, type ReceivedFailureReport, type ReceivedHeartbeat } from '@rampart/contracts';
import { encodeJson } from '@rampart/service-kit';
import { waitFor } from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedPlatform } from '@rampart/embedded';
import { startTestPlatform } from '../../embedded/test/support/test-platform.js';
import { runCli } from './support/run-cli.js';

/** `rampart error-report` and `stability` (the built binary) against the embedded platform, which runs the failures service too. */
describe('rampart error-report', () => {
  let dir: string;
  let platform: EmbeddedPlatform;
  const rampart = (...args: string[]) =>
    runCli([...args, '--api', platform.api.url], {
      HOME: dir,
      XDG_CONFIG_HOME: join(dir, 'config'),
      RAMPART_TOKEN: platform.tenant.adminToken,
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-error-report-'));
    platform = await startTestPlatform(join(dir, 'platform'));
    for (let seq = 1; seq <= 12; seq++) {
      const message: ReceivedFailureReport = {
        deviceId: (seq % 3).toString(16).padStart(64, '0'),
        tenantId: platform.tenant.id,
        receivedAt: Date.now(),
        report: {
          seq,
          at: Date.now(),
          kind: 'watchdog-reset',
          component: 'app:sensor',
          version: '1.0.0',
          exitCode: null,
          signal: 'SIGKILL',
          message: 'watchdog',
          frames: [],
        },
      };
      await platform.bus.publishDurable(Subject.failuresReportReceived, encodeJson({ reports: [message] }), { msgId: `t:${seq}` });
    }
    await waitFor(async () => (await platform.failures.repository.totals()).reports === 12, { describe: '12 reports' });
  });

  afterAll(async () => {
    await platform?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists buckets and downloads every report as CSV', async () => {
    const list = await rampart('error-report', 'list', '-o', 'json');
    expect(list.stderr).toBe('');
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ reports: 12, devices: 3, signal: 'SIGKILL' })]);
    expect((await rampart('error-report', 'list')).stdout).toMatch(
      /^BUCKET\s+REPORTS\s+DEVICES\s+LAST SEEN\s+TITLE\n[0-9a-f]{12}\s+12\s+3\s+\d+[sm] ago\s+\S/,
    );
    const file = join(dir, 'reports.csv');
    expect(await rampart('error-report', 'download', '--format', 'csv', '--file', file)).toMatchObject({ code: 0, stderr: '' });
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(13);
    const refused = await runCli(['error-report', 'list', '--api', platform.api.url, '--token', 'not-a-real-token-at-all'], {
      HOME: dir,
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: .+\(HTTP 401\)\n$/);
  });

  it('shows crash-free devices and hours per version', async () => {
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000; // never the hour of the resets
    const heartbeats: ReceivedHeartbeat[] = [0, 1, 2, 3].map((n) => ({
      deviceId: n.toString(16).padStart(64, '0'),
      tenantId: platform.tenant.id,
      receivedAt: Date.now(),
      heartbeat: { seq: 1, from: hour, to: hour + 3_600_000, running: [{ component: 'app:sensor', version: '1.0.0' }] },
    }));
    await platform.bus.publishDurable(Subject.failuresHeartbeatReceived, encodeJson({ heartbeats }), { msgId: 'hb:1' });
    await waitFor(() => platform.failures.heartbeats.counters.stored === 4, { describe: '4 heartbeats' });
    const run = await rampart('stability', 'app:sensor');
    expect(run.stderr).toBe('');
    const printed = run.stdout;
    // Devices 0-2 had watchdog resets (within the last minute, which no heartbeat covers yet); an earlier hour ran cleanly on all four.
    expect(printed).toMatch(/^1\.0\.0\s+4\s+25\.00 %\s+4\.0\s+100\.00 %\s+3000\.00$/m);
  });
});
