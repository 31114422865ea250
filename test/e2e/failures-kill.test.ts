import { Stream, Subject, type ReceivedFailureReport } from '@rampart/contracts';
import { NatsBus, encodeJson } from '@rampart/service-kit';
import {
  TEST_NATS_URL,
  createTestDatabase,
  queryDatabase,
  removeBusPrefix,
  uniqueBusPrefix,
  waitFor,
  type TestDatabase,
} from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceProcess, startFailuresProcess } from '../support/service-process.js';

const REPORTS = 3_000;
const DEVICES = 50;

/**
 * The failures service killed with SIGKILL while reports stream in, then
 * started again: every report stored exactly once and every bucket's count
 * exact — redelivery of what the killed process held never doubles a count.
 */
describe('failures service killed mid-stream', () => {
  let db: TestDatabase;
  let bus: NatsBus;
  const prefix = uniqueBusPrefix('failkill');
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    bus = await NatsBus.connect({ url: TEST_NATS_URL, prefix, name: 'failures-kill-test', onError: () => undefined });
    await bus.ensureStream({
      name: Stream.failures.name,
      subjects: Stream.failures.subjects,
      maxAgeMs: 600_000,
      duplicateWindowMs: 60_000,
    });
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await bus?.drain();
    await removeBusPrefix(prefix);
    await db?.drop();
  });

  it('stores every report once and counts every bucket exactly after a SIGKILL and a restart', async () => {
    const env = {
      DATABASE_URL: db.url,
      NATS_URL: TEST_NATS_URL,
      BUS_PREFIX: prefix,
      INGEST_FLUSH_MS: '20',
      INGEST_BATCH_SIZE: '100',
      INGEST_ACK_WAIT_MS: '2000',
      DEVICE_REPORT_BURST: '100000',
    };
    const first = await startFailuresProcess('failures-a', env);
    processes.push(first.process);
    const stored = async () =>
      Number((await queryDatabase<{ n: string }>(db.url, 'SELECT count(*)::text AS n FROM failures.reports'))[0]!.n);
    let published = 0;
    const publishing = (async () => {
      for (let seq = 0; seq < REPORTS / 10; seq++) {
        const reports: ReceivedFailureReport[] = Array.from({ length: 10 }, (_, i) => {
          const n = seq * 10 + i;
          return {
            deviceId: (n % DEVICES).toString(16).padStart(64, '0'),
            tenantId: 'acme',
            receivedAt: Date.now(),
            report: {
              seq: n,
              at: Date.now(),
              kind: 'app-crash',
              component: 'app:sensor',
              version: '1.1.0',
              exitCode: 1,
              signal: null,
              message: 'TypeError',
              frames: [{ function: n % 2 === 0 ? 'smooth' : 'tick', file: 'app:sensor@1.1.0', line: 1, column: 1 }],
            },
          };
        });
        await bus.publishDurable(Subject.failuresReportReceived, encodeJson({ reports }), { msgId: `kill:${seq}` });
        published += 10;
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    await waitFor(async () => (await stored()) > 300, { timeoutMs: 20_000, describe: 'some reports stored' });
    await first.process.stop('SIGKILL');
    const atKill = await stored();
    expect(atKill).toBeLessThan(REPORTS);
    const second = await startFailuresProcess('failures-b', env);
    processes.push(second.process);
    await publishing;
    expect(published).toBe(REPORTS);
    await waitFor(async () => (await stored()) === REPORTS, { timeoutMs: 30_000, describe: `${REPORTS} stored` });
    // Let any redelivery of what the killed process held arrive and be refused as a duplicate.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await stored()).toBe(REPORTS);
    const buckets = await queryDatabase<{ reports: string; devices: string }>(
      db.url,
      `SELECT reports::text, devices::text FROM failures.buckets ORDER BY title`,
    );
    expect(buckets).toEqual([
      { reports: String(REPORTS / 2), devices: String(DEVICES / 2) },
      { reports: String(REPORTS / 2), devices: String(DEVICES / 2) },
    ]);
  });
});
