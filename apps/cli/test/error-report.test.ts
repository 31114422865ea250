import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject, type ReceivedFailureReport, type ReceivedHeartbeat } from '@rampart/contracts';
import { encodeJson } from '@rampart/service-kit';
import { waitFor } from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorReportDownload, errorReportList } from '../src/commands/error-reports.js';
import { stability } from '../src/commands/stability.js';
import type { EmbeddedPlatform } from '@rampart/embedded';
import { startTestPlatform } from '../../embedded/test/support/test-platform.js';

/** `rampart error-report` against the embedded platform (which runs the failures service too). */
describe('rampart error-report', () => {
  let dir: string;
  let platform: EmbeddedPlatform;

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
    const options = { api: platform.failures.url, token: platform.tenant.adminToken, output: 'json' as const };
    let printed = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (chunk: string) => {
      printed += chunk;
      return true;
    };
    try {
      expect(await errorReportList(options)).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    expect(JSON.parse(printed)).toEqual([expect.objectContaining({ reports: 12, devices: 3, signal: 'SIGKILL' })]);
    const file = join(dir, 'reports.csv');
    expect(await errorReportDownload({ ...options, format: 'csv', file })).toBe(0);
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(13);
    expect(await errorReportList({ ...options, token: 'not-a-real-token-at-all' })).toBe(1);
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
    let printed = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (chunk: string) => {
      printed += chunk;
      return true;
    };
    try {
      expect(await stability({ api: platform.failures.url, token: platform.tenant.adminToken, output: 'text' }, 'app:sensor')).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    // Devices 0-2 had watchdog resets (within the last minute, which no heartbeat covers yet); an earlier hour ran cleanly on all four.
    expect(printed).toMatch(/^1\.0\.0\s+4\s+25\.00 %\s+4\.0\s+100\.00 %\s+3000\.00$/m);
  });
});
