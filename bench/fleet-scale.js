// fleet-scale: the largest emulated fleet the whole platform (attestation,
// gateway, telemetry as processes on real NATS and PostgreSQL) keeps healthy
// on this machine, and memory per emulated device. Healthy: every device
// connected and attested over mTLS, one QoS 1 reading every 5 s each, 100 %
// of acknowledged readings stored, p99 publish → stored under 1 s.
// Baseline in the same run: bare Aedes with plain mqtt.js clients at the
// same rate (no TLS, no attestation, no device model).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadOrCreateDevelopmentPki } from '@rampart/trust';
import { startBenchAttestation } from './lib/attestation.js';
import { createBenchDatabase, sql } from './lib/database.js';
import { startBenchGateway } from './lib/gateway.js';
import { startNode } from './lib/processes.js';
import { REPO_ROOT, writeReport } from './lib/report.js';

const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const STEPS = (process.env.BENCH_FLEET_STEPS ?? '1000,2500,5000,10000').split(',').map(Number);
const RATE = 0.2;
const STEP_SECONDS = Number(process.env.BENCH_FLEET_SECONDS ?? 60);
const CONNECT_RATE = Number(process.env.BENCH_FLEET_CONNECT_RATE ?? 400);
const P99_GOAL_S = 1;

/** Runs a bench child script and resolves with the JSON line it prints last. */
function child(script, env) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--max-old-space-size=8192', join(REPO_ROOT, 'bench/lib', script)], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let last;
    createInterface({ input: proc.stdout }).on('line', (l) => {
      if (l.startsWith('{')) last = l;
    });
    proc.once('exit', (code) =>
      last === undefined ? reject(new Error(`${script} exited ${code} without a report`)) : resolve(JSON.parse(last)),
    );
  });
}

function rssOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** Cumulative bucket counts of a Prometheus histogram from a /metrics text. */
async function histogram(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const buckets = new Map();
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\S+)`).exec(line);
    if (m)
      buckets.set(m[1] === '+Inf' ? Infinity : Number(m[1]), (buckets.get(m[1] === '+Inf' ? Infinity : Number(m[1])) ?? 0) + Number(m[2]));
  }
  return buckets;
}

/** The p99's bucket upper bound between two scrapes (a bound, not an exact value). */
function p99Between(before, after) {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const delta = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = delta.at(-1) ?? 0;
  if (total === 0) return null;
  const index = delta.findIndex((count) => count >= total * 0.99);
  return bounds[index];
}

async function platform(dir) {
  const db = await createBenchDatabase();
  const prefix = `fleet${randomBytes(3).toString('hex')}`;
  await loadOrCreateDevelopmentPki(join(dir, 'pki'));
  const processes = [];
  const attestation = await startBenchAttestation({
    dbUrl: db.url,
    natsUrl: NATS_URL,
    prefix,
    pkiDir: join(dir, 'pki'),
    tenantId: 'fleet',
  });
  processes.push(attestation.process);
  const telemetry = await startNode(
    join(REPO_ROOT, 'services/telemetry/dist/main.js'),
    { DATABASE_URL: db.url, NATS_URL, BUS_PREFIX: prefix, HTTP_PORT: '0' },
    (l) => l.msg === 'telemetry listening',
    60_000,
  );
  processes.push(telemetry);
  const gateway = await startBenchGateway({
    natsUrl: NATS_URL,
    prefix,
    pkiDir: join(dir, 'pki'),
    devListener: false,
    env: { MAX_CONNECTIONS: '100000' },
  });
  processes.push(gateway);
  return {
    dbUrl: db.url,
    api: attestation.api,
    token: attestation.token,
    gateway,
    telemetryUrl: telemetry.line.url,
    async stop() {
      for (const p of processes.reverse()) await p.stop();
      await db.drop();
    },
  };
}

async function step(p, dir, devices) {
  const gatewayRssBefore = rssOf(p.gateway.child.pid);
  const lagBefore = await histogram(p.telemetryUrl, 'rampart_telemetry_ingest_lag_seconds');
  const started = Date.now();
  const result = await child('fleet-child.js', {
    FLEET_DEVICES: String(devices),
    FLEET_RATE: String(RATE),
    // Time for the connect-and-attest storm (generously, 4x the connect ramp), then the steady window.
    FLEET_DURATION_MS: String(Math.round((4 * devices) / CONNECT_RATE + STEP_SECONDS) * 1000),
    FLEET_GATEWAY_PORT: String(p.gateway.line.port),
    FLEET_PKI_DIR: join(dir, 'pki'),
    FLEET_CONNECT_RATE: String(CONNECT_RATE),
    FLEET_API: p.api,
    FLEET_TOKEN: p.token,
  });
  const r = result.report;
  // Stored: distinct readings of this step's devices, once the pipeline has caught up (or a minute has passed).
  let stored = 0;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const rows = await sql(
      p.dbUrl,
      `SELECT count(*)::int AS n FROM (SELECT DISTINCT device_id, seq FROM telemetry.readings WHERE device_id = ANY($1)) d`,
      [r.deviceIds],
    );
    stored = rows[0].n;
    if (stored >= r.acknowledged) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  const p99LagS = p99Between(lagBefore, await histogram(p.telemetryUrl, 'rampart_telemetry_ingest_lag_seconds'));
  const healthy =
    r.devicesConnected === devices &&
    r.devicesAttested === devices &&
    r.unacknowledged === 0 &&
    r.acknowledged === r.published &&
    stored === r.acknowledged &&
    p99LagS !== null &&
    p99LagS <= P99_GOAL_S;
  return {
    devices,
    healthy,
    connected: r.devicesConnected,
    attested: r.devicesAttested,
    attestationFailures: r.attestationFailures,
    attestationTimeouts: r.attestationTimeouts,
    allAttestedAfterS: result.attestedAfterS,
    published: r.published,
    acknowledged: r.acknowledged,
    stored,
    unacknowledged: r.unacknowledged,
    reconnects: r.reconnects,
    ackP99Ms: r.ackLatencyMs.p99,
    p99PublishToStoredAtMostS: p99LagS,
    allConnectedAfterS: result.memory.heldAtMs === null ? null : Math.round(result.memory.heldAtMs / 100) / 10,
    emulatorBytesPerDevice: result.memory.bytesPerDevice,
    gatewayBytesPerDevice: Math.round((rssOf(p.gateway.child.pid) - gatewayRssBefore) / devices),
    wallSeconds: Math.round((Date.now() - started) / 1000),
  };
}

async function baseline(devices) {
  const broker = await startNode(join(REPO_ROOT, 'bench/lib/bare-aedes.js'), {}, (l) => l.msg === 'bare aedes listening');
  try {
    const rssBefore = rssOf(broker.child.pid);
    const result = await child('bare-fleet-child.js', {
      FLEET_DEVICES: String(devices),
      FLEET_RATE: String(RATE),
      FLEET_DURATION_MS: String(Math.min(STEP_SECONDS, 30) * 1000),
      FLEET_BROKER_PORT: String(broker.line.port),
      FLEET_CONNECT_RATE: String(CONNECT_RATE * 5),
    });
    return { ...result, brokerBytesPerDevice: Math.round((rssOf(broker.child.pid) - rssBefore) / devices) };
  } finally {
    await broker.stop();
  }
}

export async function run() {
  const dir = await mkdtemp(join(tmpdir(), 'rampart-fleet-scale-'));
  const steps = [];
  let largest = 0;
  try {
    for (const devices of STEPS) {
      // A fresh platform per step, so one step's backlog cannot hurt the next.
      const p = await platform(dir);
      try {
        const s = await step(p, dir, devices);
        steps.push(s);
        process.stdout.write(`  ${devices} devices: ${s.healthy ? 'healthy' : 'NOT healthy'} ${JSON.stringify(s)}\n`);
        if (!s.healthy) break;
        largest = devices;
      } finally {
        await p.stop();
      }
    }
    const base = await baseline(largest > 0 ? largest : STEPS[0]);
    process.stdout.write(`  baseline (bare Aedes + mqtt.js, no TLS): ${JSON.stringify(base)}\n`);
    return await writeReport({
      name: 'fleet-scale',
      value: largest,
      unit: 'devices held healthy (mTLS, attested, 0.2 msg/s QoS 1, 100 % stored, p99 publish → stored ≤ 1 s)',
      baseline: `bare Aedes + mqtt.js at the same size (no TLS, no attestation, no device model)`,
      baseline_value: base.acknowledged === base.published && base.connected === (largest || STEPS[0]) ? largest || STEPS[0] : 0,
      goal: '10,000 devices; moonshot 50,000 connected',
      steps,
      baselineDetail: base,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
