import { Stream, Subject } from '@rampart/contracts';
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
import { startTelemetryProcess } from '../support/service-process.js';

describe('graceful shutdown', () => {
  let db: TestDatabase;
  let bus: NatsBus;
  const prefix = uniqueBusPrefix('stop');

  beforeAll(async () => {
    db = await createTestDatabase();
    bus = await NatsBus.connect({ url: TEST_NATS_URL, prefix, name: 'shutdown-test', onError: () => undefined });
    await bus.ensureStream({
      name: Stream.telemetry.name,
      subjects: Stream.telemetry.subjects,
      maxAgeMs: 600_000,
      duplicateWindowMs: 60_000,
    });
  });

  afterAll(async () => {
    await bus?.drain();
    await removeBusPrefix(prefix);
    await db?.drop();
  });

  it('on SIGTERM the telemetry service commits what it holds, drains and exits 0', async () => {
    // A long flush interval: readings sit in the service's buffer until shutdown forces the write.
    const { process: service } = await startTelemetryProcess('telemetry', {
      DATABASE_URL: db.url,
      NATS_URL: TEST_NATS_URL,
      BUS_PREFIX: prefix,
      INGEST_FLUSH_MS: '600000',
    });
    const now = Date.now();
    const readings = Array.from({ length: 50 }, (_, seq) => ({
      deviceId: 'f'.repeat(64),
      seq,
      ts: now,
      receivedAt: now,
      metrics: { t: seq },
    }));
    await bus.publishDurable(Subject.telemetryBatchReceived, encodeJson({ readings }), { msgId: 'held-batch' });
    // The stream has delivered the batch once the consumer's pending count shows it.
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const { connect } = await import('@nats-io/transport-node');
    const nc = await connect({ servers: TEST_NATS_URL });
    const jsm = await jetstreamManager(nc);
    const stream = `${prefix.toUpperCase()}_${Stream.telemetry.name}`;
    await waitFor(async () => (await jsm.consumers.info(stream, 'telemetry-ingest')).num_ack_pending === 1, {
      describe: 'the batch delivered and held',
    });
    await service.stop('SIGTERM');
    const { code } = await service.exited;
    expect(code).toBe(0);
    expect(service.lines.some((l) => l.msg === 'telemetry stopped')).toBe(true);
    const rows = await queryDatabase<{ n: string }>(db.url, 'SELECT count(*) AS n FROM telemetry.readings');
    expect(Number(rows[0]?.n)).toBe(50);
    const after = await jsm.consumers.info(stream, 'telemetry-ingest');
    expect(after.num_ack_pending).toBe(0);
    await nc.close();
  });
});
