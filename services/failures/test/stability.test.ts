import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Subject, type ReceivedFailureReport, type ReceivedHeartbeat } from '@rampart/contracts';
import { encodeJson, type NatsBus, type TypedBus } from '@rampart/service-kit';
import { waitFor, type TestDatabase } from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningFailures } from '../src/start-failures.js';
import { startFailuresEnvironment, type FailuresEnvironment } from './failures-environment.js';

const HOUR = 3_600_000;
const device = (n: number) => n.toString(16).padStart(64, '0');

/**
 * Crash-free devices and hours: uptime heartbeats over real NATS into
 * PostgreSQL, crashes from stored reports, figures checked exactly.
 */
describe('stability: crash-free devices and hours per version', () => {
  let env: FailuresEnvironment;
  let db: TestDatabase;
  let service: RunningFailures;
  let bus: NatsBus;
  let typed: TypedBus;
  /** Three whole hours ago, so every interval below ends before the gateway "received" it. */
  const H = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR;

  beforeAll(async () => {
    env = await startFailuresEnvironment('stability');
    ({ db, service, bus, typed } = env);
  });

  afterAll(async () => {
    await env?.close();
  });

  function heartbeat(deviceId: string, seq: number, from: number, version: string, tenantId = 'acme'): ReceivedHeartbeat {
    return {
      deviceId,
      tenantId,
      receivedAt: Date.now(),
      heartbeat: {
        seq,
        from,
        to: from + HOUR,
        running: [
          { component: 'os', version: '5.0.0' },
          { component: 'app:sensor', version },
        ],
      },
    };
  }

  async function publishHeartbeats(heartbeats: ReceivedHeartbeat[]): Promise<void> {
    await bus.publishDurable(Subject.failuresHeartbeatReceived, encodeJson({ heartbeats }), { msgId: randomUUID() });
  }

  async function crash(deviceId: string, seq: number, at: number, version: string): Promise<void> {
    const message: ReceivedFailureReport = {
      deviceId,
      tenantId: 'acme',
      receivedAt: Date.now(),
      report: { seq, at, kind: 'app-crash', component: 'app:sensor', version, exitCode: 1, signal: null, message: 'boom', frames: [] },
    };
    await bus.publishDurable(Subject.failuresReportReceived, encodeJson({ reports: [message] }), { msgId: randomUUID() });
  }

  const query = (extra: { deviceIds?: string[]; tenantId?: string } = {}) =>
    typed.request(Subject.failuresStabilityQuery, {
      tenantId: extra.tenantId ?? 'acme',
      component: 'app:sensor',
      since: H,
      ...(extra.deviceIds === undefined ? {} : { deviceIds: extra.deviceIds }),
    });

  it('counts devices, operating hours and crashes exactly, once however often heartbeats arrive', async () => {
    // 1.0.0: devices 0-9, two hours each; 1.1.0: devices 100-104, two hours each.
    const old = Array.from({ length: 10 }, (_, d) => [
      heartbeat(device(d), 1, H, '1.0.0'),
      heartbeat(device(d), 2, H + HOUR, '1.0.0'),
    ]).flat();
    const next = Array.from({ length: 5 }, (_, d) => [
      heartbeat(device(100 + d), 1, H, '1.1.0'),
      heartbeat(device(100 + d), 2, H + HOUR, '1.1.0'),
    ]).flat();
    await publishHeartbeats(old);
    await publishHeartbeats(next);
    // A resend of the same heartbeats (another stream message): nothing more.
    await publishHeartbeats(next);
    // A device inventing heartbeats for one hour gets that hour once, not five times.
    await publishHeartbeats([1, 2, 3, 4, 5].map((seq) => heartbeat(device(300), seq, H + 2 * HOUR, '1.0.0')));
    // Another tenant's devices never show.
    await publishHeartbeats([heartbeat(device(400), 1, H, '1.1.0', 'globex')]);
    // Crashes: device 100 twice in hour H, device 1 once in hour H+1, and device 200 (no heartbeat) once.
    await crash(device(100), 1, H + 10 * 60_000, '1.1.0');
    await crash(device(100), 2, H + 20 * 60_000, '1.1.0');
    await crash(device(1), 1, H + HOUR + 60_000, '1.0.0');
    await crash(device(200), 1, H + 60_000, '1.1.0');
    await waitFor(async () => service.heartbeats.counters.stored === 36 && (await service.repository.totals()).reports === 4, {
      describe: '36 distinct heartbeats and 4 crashes stored',
    });
    await waitFor(() => service.heartbeats.counters.duplicates === 10, { describe: 'the resend seen as duplicates' });

    const reply = await query();
    const byVersion = Object.fromEntries(reply.cohorts.map((c) => [c.version, c]));
    expect(byVersion['1.0.0']).toEqual({
      version: '1.0.0',
      devices: 11,
      crashFreeDevices: 10,
      crashFreeDevicesRatio: 10 / 11,
      operatingHours: 21,
      crashFreeHoursRatio: 20 / 21,
      crashes: 1,
      crashesPer1000Hours: (1 / 21) * 1000,
    });
    expect(byVersion['1.1.0']).toEqual({
      version: '1.1.0',
      devices: 6,
      crashFreeDevices: 4,
      crashFreeDevicesRatio: 4 / 6,
      operatingHours: 10,
      crashFreeHoursRatio: 9 / 10,
      crashes: 3,
      crashesPer1000Hours: 300,
    });
    expect(reply.cohorts.map((c) => c.version)).toEqual(['1.0.0', '1.1.0']);
  });

  it('answers for a set of devices (a group or a wave) and for one tenant only', async () => {
    const wave = await query({ deviceIds: [device(100), device(101), device(0)] });
    expect(wave.cohorts).toEqual([
      expect.objectContaining({ version: '1.0.0', devices: 1, operatingHours: 2, crashes: 0 }),
      expect.objectContaining({ version: '1.1.0', devices: 2, crashFreeDevices: 1, operatingHours: 4, crashes: 2 }),
    ]);
    const globex = await query({ tenantId: 'globex' });
    expect(globex.cohorts).toEqual([expect.objectContaining({ version: '1.1.0', devices: 1, operatingHours: 1, crashes: 0 })]);
    expect((await query({ tenantId: 'initech' })).cohorts).toEqual([]);
  });

  it('counts buckets as a set of devices saw them', async () => {
    const among = (deviceIds?: string[]) =>
      typed.request(Subject.failuresBucketsQuery, { tenantId: 'acme', since: H, ...(deviceIds === undefined ? {} : { deviceIds }) });
    const all = await among();
    expect(all.buckets.map((b) => [b.version, b.reports, b.devices])).toEqual([
      ['1.1.0', 3, 2],
      ['1.0.0', 1, 1],
    ]);
    const wave = await among([device(100), device(1)]);
    expect(wave.buckets.map((b) => [b.version, b.reports, b.devices])).toEqual([
      ['1.1.0', 2, 1],
      ['1.0.0', 1, 1],
    ]);
    expect((await among([device(999)])).buckets).toEqual([]);
    // Distinct devices per kind: 100, 1 and 200 crashed; the wave's two devices.
    expect(all.devicesByKind).toEqual({ 'app-crash': 3 });
    expect(wave.devicesByKind).toEqual({ 'app-crash': 2 });
    expect((await typed.request(Subject.failuresBucketsQuery, { tenantId: 'globex', since: H })).buckets).toEqual([]);
  });

  it('gives the rollout gate the measured exposure when the caller states none', async () => {
    const reply = await typed.request(Subject.failuresHealthCompare, {
      tenantId: 'acme',
      component: 'app:sensor',
      candidate: { version: '1.1.0' },
      baseline: { version: '1.0.0' },
      since: H,
    });
    expect(reply).toMatchObject({ verdict: 'insufficient-data', candidateCrashes: 3, baselineCrashes: 1 });
    expect(reply.reason).toContain('10.0 device-hours');
  });

  it('refuses a malformed heartbeat batch, counts it, and stores nothing of it', async () => {
    const before = (await query()).cohorts;
    const refused = service.heartbeats.counters.refused;
    const good = heartbeat(device(500), 1, H, '1.1.0');
    await publishHeartbeats([good, { ...good, heartbeat: { ...good.heartbeat, to: good.heartbeat.from + 5 * HOUR } }]);
    await bus.publishDurable(Subject.failuresHeartbeatReceived, Buffer.from('{"heartbeats": "nope"'), { msgId: randomUUID() });
    await waitFor(() => service.heartbeats.counters.refused === refused + 2, { describe: 'two batches refused' });
    expect((await query()).cohorts).toEqual(before);
  });

  it('retention deletes operating time, counted heartbeats and buckets nobody hit for the retention period', async () => {
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    try {
      await sql.query(`UPDATE failures.device_hours SET hour = hour - interval '100 days' WHERE device_id = $1`, [device(300)]);
      await sql.query(`UPDATE failures.heartbeats SET received_at = now() - interval '100 days' WHERE device_id = $1`, [device(300)]);
      await sql.query(`UPDATE failures.buckets SET last_seen = now() - interval '100 days' WHERE version = '1.0.0'`);
      await sql.query(`UPDATE failures.reports SET occurred_at = now() - interval '100 days' WHERE version = '1.0.0'`);
      expect(await service.stability.deleteOlderThan(90)).toBe(2 + 5); // two components in one hour, five heartbeats
      expect(await service.repository.deleteOlderThan(90)).toEqual({ reports: 1, buckets: 1 });
      const left = await sql.query(
        `SELECT (SELECT count(*) FROM failures.bucket_devices d JOIN failures.buckets b ON b.signature = d.signature)::int AS joined,
                (SELECT count(*) FROM failures.bucket_devices)::int AS devices`,
      );
      // Every device list left belongs to a bucket that is left.
      expect(left.rows[0]).toEqual({ joined: 2, devices: 2 });
      const after = Object.fromEntries((await query()).cohorts.map((c) => [c.version, c]));
      expect(after['1.0.0']).toMatchObject({ devices: 10, operatingHours: 20, crashes: 0 });
    } finally {
      await sql.end();
    }
  });

  it('counts a device with reports in two buckets once among the devices that had a kind of failure (the rollout gate)', async () => {
    const now = Date.now();
    // Device 600 crashes on two versions (two buckets), device 601 once.
    await crash(device(600), 1, now - 60_000, '3.0.0');
    await crash(device(600), 2, now - 50_000, '3.1.0');
    await crash(device(601), 1, now - 40_000, '3.1.0');
    const since = now - 120_000;
    await waitFor(async () => (await typed.request(Subject.failuresBucketsQuery, { tenantId: 'acme', since })).buckets.length === 2, {
      describe: 'two buckets of the new crashes',
    });
    const answer = await typed.request(Subject.failuresBucketsQuery, { tenantId: 'acme', since, deviceIds: [device(600), device(601)] });
    expect(answer.buckets.reduce((n, b) => n + b.devices, 0)).toBe(3);
    expect(answer.devicesByKind).toEqual({ 'app-crash': 2 });
  });
});
