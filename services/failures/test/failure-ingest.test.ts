import { randomUUID } from 'node:crypto';
import { metrics } from '@opentelemetry/api';
import { Stream, Subject, type ReceivedFailureReport } from '@rampart/contracts';
import { NatsBus, createLogger, encodeJson, openDatabase, systemClock } from '@rampart/service-kit';
import {
  TEST_NATS_URL,
  createTestDatabase,
  queryDatabase,
  removeBusPrefix,
  uniqueBusPrefix,
  waitFor,
  type TestDatabase,
} from '@rampart/testing';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertSink } from '../src/alerts/alert-sink.js';
import { DeviceRateLimiter } from '../src/ingest/device-rate-limiter.js';
import { FailureIngest } from '../src/ingest/failure-ingest.js';
import { FailuresRepository } from '../src/ingest/failures.repository.js';
import { failuresMigrations } from '../src/migrations/index.js';

const logger = createLogger('failures', 'silent');
const device = (n: number) => n.toString(16).padStart(64, '0');

function crash(deviceId: string, seq: number, overrides: Partial<ReceivedFailureReport['report']> = {}): ReceivedFailureReport {
  return {
    deviceId,
    tenantId: 'acme',
    receivedAt: Date.now(),
    report: {
      seq,
      at: Date.now(),
      kind: 'app-crash',
      component: 'app:sensor',
      version: '1.1.0',
      exitCode: 1,
      signal: null,
      message: 'TypeError: boom',
      frames: [{ function: 'smooth', file: 'app:sensor@1.1.0', line: 3, column: 9 }],
      ...overrides,
    },
  };
}

describe('failure ingest', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let repository: FailuresRepository;
  let bus: NatsBus;
  const prefix = uniqueBusPrefix('fail');

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await openDatabase(
      { url: db.url, schema: 'failures', migrations: failuresMigrations, poolSize: 4, applicationName: 'failures-test' },
      logger,
    );
    repository = new FailuresRepository(dataSource);
    bus = await NatsBus.connect({ url: TEST_NATS_URL, prefix, name: 'failures-test', onError: () => undefined });
  });

  afterAll(async () => {
    await bus?.drain();
    await removeBusPrefix(prefix);
    await dataSource?.destroy();
    await db?.drop();
  });

  function ingest(limiter = new DeviceRateLimiter(600, 100)) {
    return new FailureIngest(
      bus,
      repository,
      limiter,
      new AlertSink(bus, undefined, logger, metrics.getMeter('test')),
      { batchSize: 200, flushMs: 20, maxAckPending: 1_000, ackWaitMs: 2_000, retryDelayMs: 200 },
      systemClock,
      logger,
      metrics.getMeter('test'),
    );
  }

  const publish = (message: unknown, msgId = randomUUID()) =>
    bus.publishDurable(Subject.failuresReportReceived, encodeJson({ reports: [message] }), { msgId });

  it('stores each report once however often it arrives, buckets it, and counts distinct devices', async () => {
    const a = ingest();
    await a.start();
    try {
      for (let d = 0; d < 10; d++) for (let seq = 1; seq <= 3; seq++) await publish(crash(device(d), seq));
      // Resends with new message ids (a device whose PUBACK was lost, past the stream's window): stored once.
      for (let d = 0; d < 10; d++) await publish(crash(device(d), 1));
      await waitFor(async () => (await repository.totals()).reports === 30 && a.counters.stored === 30, { describe: '30 reports' });
      await new Promise((r) => setTimeout(r, 300));
      expect((await repository.totals()).reports).toBe(30);
      const [bucket] = await repository.buckets('acme');
      expect(bucket).toMatchObject({ reports: 30, devices: 10, version: '1.1.0' });
      expect(bucket!.title).toBe('app-crash in app:sensor 1.1.0: smooth@app:sensor');
    } finally {
      await a.stop();
    }
  });

  it('loses nothing and doubles nothing when a replica dies mid-stream and another takes over', async () => {
    const before = (await repository.totals()).reports;
    const dying = ingest();
    await dying.start();
    for (let i = 0; i < 300; i++) await publish(crash(device(100 + (i % 30)), 1000 + i, { version: '2.0.0' }));
    await waitFor(() => dying.counters.stored > 0, { describe: 'some stored' });
    // Its connection to NATS goes away without acknowledging what it holds (as in a SIGKILL).
    await (dying as unknown as { subscriptions: Array<{ close(): Promise<void> }> }).subscriptions[0]!.close();
    const survivor = ingest();
    await survivor.start();
    try {
      await waitFor(async () => (await repository.totals()).reports - before === 300, { timeoutMs: 20_000, describe: '300 stored' });
      await new Promise((r) => setTimeout(r, 2_500));
      expect((await repository.totals()).reports - before).toBe(300);
      const rows = await queryDatabase<{ reports: string; devices: string }>(
        db.url,
        `SELECT reports::text, devices::text FROM failures.buckets WHERE version = '2.0.0'`,
      );
      expect(rows).toEqual([{ reports: '300', devices: '30' }]);
    } finally {
      await survivor.stop();
      await dying.stop();
    }
  });

  it('refuses malformed reports and ones naming a device themselves, counts them, and stores nothing of them', async () => {
    const a = ingest();
    await a.start();
    try {
      const before = (await repository.totals()).reports;
      await bus.publishDurable(Subject.failuresReportReceived, new TextEncoder().encode('{"deviceId":'), { msgId: randomUUID() });
      await publish({ ...crash(device(200), 1), report: { ...crash(device(200), 1).report, deviceId: device(201) } });
      await publish({ ...crash(device(200), 2), report: { ...crash(device(200), 2).report, kind: 'meltdown' } });
      await waitFor(() => a.counters.refused === 3, { describe: 'three refused' });
      expect((await repository.totals()).reports).toBe(before);
    } finally {
      await a.stop();
    }
  });

  it('refuses a report the database cannot hold (a NUL, a lone surrogate) instead of failing its batch over and over, and stores the rest', async () => {
    const a = ingest();
    await a.start();
    try {
      const before = (await repository.totals()).reports;
      await publish(crash(device(300), 1, { message: 'boom\u0000' }));
      await publish(crash(device(301), 1, { frames: [{ function: 'tick\ud800', file: 'app:sensor@1.1.0', line: 1, column: 1 }] }));
      await publish(crash(device(302), 1, { version: '1.1.0\u0000' }));
      await publish(crash(device(303), 1));
      await waitFor(() => a.counters.refused === 3 && a.counters.stored === 1, { describe: 'three refused, one stored' });
      expect((await repository.totals()).reports).toBe(before + 1);
      expect(a.counters.failedBatches).toBe(0);
    } finally {
      await a.stop();
    }
  });

  it('limits a flooding device without touching the others, and stores what it dropped', async () => {
    const a = ingest(new DeviceRateLimiter(60, 20));
    await a.start();
    try {
      const flooder = device(300);
      const quiet = device(301);
      for (let seq = 1; seq <= 200; seq++) await publish(crash(flooder, seq, { version: '3.0.0' }));
      for (let seq = 1; seq <= 5; seq++) await publish(crash(quiet, seq, { version: '3.0.0' }));
      await waitFor(() => a.counters.stored + a.counters.dropped >= 205, { timeoutMs: 10_000, describe: 'all handled' });
      const stored = await queryDatabase<{ device_id: string; n: string }>(
        db.url,
        `SELECT device_id, count(*)::text AS n FROM failures.reports WHERE version = '3.0.0' GROUP BY device_id`,
      );
      const byDevice = Object.fromEntries(stored.map((r) => [r.device_id, Number(r.n)]));
      expect(byDevice[quiet]).toBe(5);
      expect(byDevice[flooder]).toBeGreaterThanOrEqual(20);
      expect(byDevice[flooder]).toBeLessThan(30);
      const dropped = await queryDatabase<{ dropped: string }>(db.url, `SELECT dropped::text FROM failures.dropped WHERE device_id = $1`, [
        flooder,
      ]);
      expect(Number(dropped[0]!.dropped)).toBe(200 - byDevice[flooder]!);
    } finally {
      await a.stop();
    }
  });

  it('takes attestation refusals from the attestation stream as reports of their own kind', async () => {
    const a = ingest();
    await a.start();
    try {
      await bus.ensureStream({
        name: Stream.attestation.name,
        subjects: Stream.attestation.subjects,
        maxAgeMs: 3_600_000,
        duplicateWindowMs: 60_000,
      });
      const id = randomUUID();
      const event = { id, deviceId: device(400), tenantId: 'acme', reasons: ['MEASUREMENT_UNKNOWN'], at: Date.now() };
      await bus.publishDurable(Subject.attestationVerdictFailed, encodeJson(event), { msgId: id });
      await waitFor(
        async () =>
          (await queryDatabase(db.url, `SELECT 1 FROM failures.reports WHERE report_key = $1`, [`attestation:${id}`])).length === 1,
        {
          describe: 'attestation failure stored',
        },
      );
      const buckets = await repository.buckets('acme');
      expect(buckets.some((b) => b.title === 'attestation-failure in attestation : MEASUREMENT_UNKNOWN')).toBe(true);
    } finally {
      await a.stop();
    }
  });
});
