// failure-ingest: failure reports per second from MQTT QoS 1 publish →
// gateway → FAILURES stream → failures service → committed and bucketed,
// against raw COPY of the same rows into a table shaped like
// failures.reports (same columns, key and indexes), in the same run.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import mqtt from 'mqtt';
import copyStreams from 'pg-copy-streams';
import { createBenchDatabase, withClient } from './lib/database.js';
import { startBenchGateway } from './lib/gateway.js';
import { startNode } from './lib/processes.js';
import { REPO_ROOT, writeReport } from './lib/report.js';

const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 10_000);
const CLIENTS = 50;
const WINDOW = 50;
const COPY_ROWS = Number(process.env.BENCH_COPY_ROWS ?? 100_000);

/** A crash report as a device sends it; a few distinct stacks so several buckets fill. */
function report(seq) {
  const fn = ['smooth', 'calibrate', 'tick', 'read'][seq % 4];
  return JSON.stringify({
    seq,
    at: Date.now(),
    kind: 'app-crash',
    component: 'app:sensor',
    version: '1.1.0',
    exitCode: 1,
    signal: null,
    message: 'TypeError: Cannot read properties of undefined',
    frames: [
      { function: fn, file: 'app:sensor@1.1.0', line: 12, column: 7 },
      { function: 'tick', file: 'app:sensor@1.1.0', line: 20, column: 3 },
    ],
    uptimeMs: 1234,
  });
}

async function rawCopy(url) {
  return withClient(url, async (c) => {
    await c.query('CREATE SCHEMA bench');
    await c.query(`CREATE TABLE bench.reports (report_key text PRIMARY KEY, device_id text NOT NULL, tenant_id text, kind text NOT NULL,
      component text NOT NULL, version text NOT NULL, exit_code integer, signal text, message text NOT NULL, frames jsonb NOT NULL,
      uptime_ms bigint, detail jsonb, occurred_at timestamptz NOT NULL, received_at timestamptz NOT NULL, bucket text NOT NULL)`);
    await c.query('CREATE INDEX ON bench.reports (tenant_id, occurred_at)');
    await c.query('CREATE INDEX ON bench.reports (bucket, occurred_at)');
    await c.query('CREATE INDEX ON bench.reports (device_id, occurred_at)');
    const frames = JSON.stringify(JSON.parse(report(0)).frames);
    function* lines() {
      let chunk = '';
      const now = new Date().toISOString();
      for (let r = 0; r < COPY_ROWS; r++) {
        const device = (r % 1000).toString(16).padStart(64, '0');
        chunk += `${device}:${r}\t${device}\tbench\tapp-crash\tapp:sensor\t1.1.0\t1\t\\N\tTypeError\t${frames}\t1234\t\\N\t${now}\t${now}\tb${r % 4}\n`;
        if (chunk.length > 65_536) {
          yield chunk;
          chunk = '';
        }
      }
      if (chunk.length > 0) yield chunk;
    }
    const started = performance.now();
    await pipeline(Readable.from(lines()), c.query(copyStreams.from('COPY bench.reports FROM STDIN')));
    const seconds = (performance.now() - started) / 1000;
    return { rows: COPY_ROWS, seconds, rowsPerSecond: Math.round(COPY_ROWS / seconds) };
  });
}

/** QoS 1 publishers on the gateway's development listener (no TLS: the pipeline, not the handshake, is measured). */
async function publish(port, clientIds) {
  const clients = await Promise.all(
    clientIds.map(
      (clientId) =>
        new Promise((resolve, reject) => {
          const client = mqtt.connect({ host: '127.0.0.1', port, protocolVersion: 4, clientId, clean: true, reconnectPeriod: 0 });
          client.once('connect', () => resolve(client));
          client.once('error', reject);
        }),
    ),
  );
  const until = Date.now() + DURATION_MS;
  let acknowledged = 0;
  await Promise.all(
    clients.map(
      (client, index) =>
        new Promise((resolve) => {
          const topic = `devices/${clientIds[index]}/failures`;
          let seq = 0;
          let outstanding = 0;
          const next = () => {
            while (outstanding < WINDOW && Date.now() < until) {
              outstanding++;
              client.publish(topic, report(seq++), { qos: 1 }, (error) => {
                outstanding--;
                if (!error) acknowledged++;
                if (Date.now() < until) next();
                else if (outstanding === 0) resolve(undefined);
              });
            }
          };
          next();
        }),
    ),
  );
  await Promise.all(clients.map((c) => c.endAsync()));
  return acknowledged;
}

export async function run() {
  const db = await createBenchDatabase();
  const prefix = `bench${randomBytes(4).toString('hex')}`;
  const processes = [];
  try {
    const copy = await rawCopy(db.url);
    process.stdout.write(`  raw COPY: ${copy.rowsPerSecond} rows/s\n`);
    const service = await startNode(
      join(REPO_ROOT, 'services/failures/dist/main.js'),
      {
        DATABASE_URL: db.url,
        NATS_URL,
        BUS_PREFIX: prefix,
        HTTP_PORT: '0',
        DEVICE_REPORTS_PER_MINUTE: '1000000',
        DEVICE_REPORT_BURST: '1000000',
        INGEST_BATCH_SIZE: '2000',
      },
      (l) => l.msg === 'failures listening',
      60_000,
    );
    processes.push(service);
    const pki = join(REPO_ROOT, '.rampart', 'pki');
    const { loadOrCreateDevelopmentPki } = await import('@rampart/trust');
    await loadOrCreateDevelopmentPki(pki);
    const gateway = await startBenchGateway({ natsUrl: NATS_URL, prefix, pkiDir: pki, devListener: true });
    processes.push(gateway);
    const clientIds = Array.from({ length: CLIENTS }, () => randomBytes(32).toString('hex'));
    const started = performance.now();
    const acknowledged = await publish(Number(gateway.line.port), clientIds);
    let stored = 0;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      stored = await withClient(db.url, async (c) => Number((await c.query('SELECT count(*) AS n FROM failures.reports')).rows[0].n));
      if (stored >= acknowledged) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - started) / 1000;
    const bucketed = await withClient(db.url, async (c) =>
      Number((await c.query('SELECT coalesce(sum(reports), 0) AS n FROM failures.buckets')).rows[0].n),
    );
    const e2e = {
      acknowledged,
      stored,
      bucketed,
      lost: Math.max(0, acknowledged - stored),
      seconds,
      reportsPerSecond: Math.round(stored / seconds),
    };
    process.stdout.write(
      `  end to end: ${e2e.reportsPerSecond} reports/s (${stored} stored and ${bucketed} bucketed of ${acknowledged} acknowledged)\n`,
    );
    return await writeReport({
      name: 'failure-ingest',
      value: e2e.reportsPerSecond,
      unit: 'reports/s',
      baseline: 'raw COPY of the same rows into the same table shape',
      baseline_value: copy.rowsPerSecond,
      goal: '>= 10000 reports/s end to end (MQTT publish to committed and bucketed)',
      rawCopy: copy,
      endToEnd: { ...e2e, meetsGoal: e2e.reportsPerSecond >= 10_000 && e2e.lost === 0 && bucketed === stored },
    });
  } finally {
    for (const p of processes.reverse()) await p.stop();
    await db.drop();
  }
}
