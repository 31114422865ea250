// telemetry-ingest: rows/s into the indexed, partitioned readings table.
//  - baseline: raw COPY of the same rows into an identical table, same run;
//  - ingest stage: the telemetry service draining a pre-filled JetStream
//    stream (batches from the gateway's format) into PostgreSQL;
//  - end to end: MQTT QoS 1 publish → gateway → JetStream → telemetry →
//    committed rows, with zero loss checked against acknowledged readings.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import copyStreams from 'pg-copy-streams';
import { NatsBus } from '@rampart/service-kit';
import { createBenchDatabase, withClient } from './lib/database.js';
import { publishLoad } from './lib/load.js';
import { startBenchGateway } from './lib/gateway.js';
import { startNode } from './lib/processes.js';
import { REPO_ROOT, writeReport } from './lib/report.js';

const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const METRICS = 10;
const READINGS = Number(process.env.BENCH_READINGS ?? 60_000);
const ROWS = READINGS * METRICS;
const E2E_DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 10_000);
const DEVICES = 200;

const deviceId = (n) => n.toString(16).padStart(64, '0');
const metricNames = Array.from({ length: METRICS }, (_, i) => `m${i}`);

async function storedRows(url) {
  return withClient(url, async (c) =>
    Number((await c.query('SELECT coalesce(sum(rows), 0) AS n FROM telemetry.device_last_seen')).rows[0].n),
  );
}

/** Raw COPY into a table shaped like telemetry.readings: same columns, key, index and daily partition. */
async function rawCopy(url) {
  return withClient(url, async (c) => {
    await c.query('CREATE SCHEMA bench');
    await c.query(`CREATE TABLE bench.readings (device_id text NOT NULL, metric text NOT NULL, ts timestamptz NOT NULL, seq bigint NOT NULL,
      value double precision NOT NULL, received_at timestamptz NOT NULL, PRIMARY KEY (device_id, metric, ts, seq)) PARTITION BY RANGE (ts)`);
    await c.query('CREATE INDEX ON bench.readings (metric, ts)');
    const day = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000);
    const next = new Date(day.getTime() + 86_400_000);
    await c.query(
      `CREATE TABLE bench.readings_today PARTITION OF bench.readings FOR VALUES FROM ('${day.toISOString()}') TO ('${next.toISOString()}')`,
    );
    const now = Date.now();
    function* lines() {
      let chunk = '';
      for (let r = 0; r < READINGS; r++) {
        const ts = new Date(now - READINGS + r).toISOString();
        for (const m of metricNames) chunk += `${deviceId(r % DEVICES)}\t${m}\t${ts}\t${r}\t${r * 0.5}\t${ts}\n`;
        if (chunk.length > 65_536) {
          yield chunk;
          chunk = '';
        }
      }
      if (chunk.length > 0) yield chunk;
    }
    const started = performance.now();
    await pipeline(Readable.from(lines()), c.query(copyStreams.from('COPY bench.readings FROM STDIN')));
    const seconds = (performance.now() - started) / 1000;
    return { rows: ROWS, seconds, rowsPerSecond: Math.round(ROWS / seconds) };
  });
}

function telemetryEnv(db, prefix) {
  return { DATABASE_URL: db.url, NATS_URL, BUS_PREFIX: prefix, HTTP_PORT: '0', INGEST_FLUSH_MS: '50', LOG_LEVEL: 'info' };
}

async function waitForRows(url, rows, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = await storedRows(url);
    if (n >= rows || Date.now() > deadline) return n;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Pre-fills the stream, then times the telemetry service draining it into PostgreSQL. */
async function ingestStage(db) {
  const prefix = `bench${randomBytes(4).toString('hex')}`;
  const bus = await NatsBus.connect({ url: NATS_URL, prefix, name: 'bench-prefill', onError: () => undefined });
  await bus.ensureStream({ name: 'TELEMETRY', subjects: ['telemetry.batch.received'], maxAgeMs: 600_000, duplicateWindowMs: 60_000 });
  const now = Date.now();
  const metrics = Object.fromEntries(metricNames.map((m, i) => [m, i]));
  const publishes = [];
  for (let start = 0; start < READINGS; start += 256) {
    const readings = [];
    for (let r = start; r < Math.min(READINGS, start + 256); r++) {
      readings.push({ deviceId: deviceId(r % DEVICES), seq: r, ts: now - READINGS + r, receivedAt: now, metrics });
    }
    publishes.push(
      bus.publishDurable('telemetry.batch.received', new TextEncoder().encode(JSON.stringify({ readings })), { msgId: `prefill:${start}` }),
    );
  }
  await Promise.all(publishes);
  const service = await startNode(
    join(REPO_ROOT, 'services/telemetry/dist/main.js'),
    telemetryEnv(db, prefix),
    (l) => l.msg === 'telemetry listening',
    60_000,
  );
  const started = performance.now();
  const stored = await waitForRows(db.url, ROWS, 180_000);
  const seconds = (performance.now() - started) / 1000;
  await service.stop();
  await bus.drain();
  await removeStream(prefix);
  return { rows: stored, seconds, rowsPerSecond: Math.round(stored / seconds) };
}

async function removeStream(prefix) {
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: NATS_URL });
  await (await jetstreamManager(nc)).streams.delete(`${prefix.toUpperCase()}_TELEMETRY`).catch(() => undefined);
  await nc.close();
}

/** MQTT QoS 1 publish through the gateway to committed rows. */
async function endToEnd(db) {
  const prefix = `bench${randomBytes(4).toString('hex')}`;
  const pki = join(REPO_ROOT, '.rampart', 'pki');
  const { loadOrCreateDevelopmentPki } = await import('@rampart/trust');
  await loadOrCreateDevelopmentPki(pki);
  await withClient(db.url, (c) => c.query('TRUNCATE telemetry.readings, telemetry.device_last_seen'));
  const service = await startNode(
    join(REPO_ROOT, 'services/telemetry/dist/main.js'),
    telemetryEnv(db, prefix),
    (l) => l.msg === 'telemetry listening',
    60_000,
  );
  const gateway = await startBenchGateway({ natsUrl: NATS_URL, prefix, pkiDir: pki, devListener: true });
  const clientIds = Array.from({ length: 20 }, () => randomBytes(32).toString('hex'));
  const started = performance.now();
  const load = await publishLoad({
    host: '127.0.0.1',
    port: Number(gateway.line.port),
    clientIds,
    qos: 1,
    window: 100,
    durationMs: E2E_DURATION_MS,
    metrics: METRICS,
  });
  const expected = load.acknowledged * METRICS;
  const stored = await waitForRows(db.url, expected, 120_000);
  const seconds = (performance.now() - started) / 1000;
  await gateway.stop();
  await service.stop();
  await removeStream(prefix);
  return {
    published: load.published,
    acknowledged: load.acknowledged,
    rowsExpected: expected,
    rowsStored: stored,
    lostRows: Math.max(0, expected - stored),
    seconds,
    rowsPerSecond: Math.round(stored / seconds),
  };
}

export async function run() {
  const db = await createBenchDatabase();
  try {
    const copy = await rawCopy(db.url);
    process.stdout.write(`  raw COPY: ${copy.rowsPerSecond} rows/s\n`);
    const ingest = await ingestStage(db);
    process.stdout.write(`  ingest stage: ${ingest.rowsPerSecond} rows/s\n`);
    const e2e = await endToEnd(db);
    process.stdout.write(`  end to end: ${e2e.rowsPerSecond} rows/s, lost rows ${e2e.lostRows}\n`);
    return await writeReport({
      name: 'telemetry-ingest',
      value: ingest.rowsPerSecond,
      unit: 'rows/s',
      baseline: 'raw COPY into the same table shape',
      baseline_value: copy.rowsPerSecond,
      goal: 'ingest stage >= 0.5x raw COPY; end to end >= 50000 rows/s with zero loss',
      metricsPerReading: METRICS,
      rawCopy: copy,
      ingestStage: ingest,
      endToEnd: { ...e2e, goalRowsPerSecond: 50_000, meetsGoal: e2e.rowsPerSecond >= 50_000 && e2e.lostRows === 0 },
    });
  } finally {
    await db.drop();
  }
}
