// rollout: a fleet updated end to end through the real services (notify
// over MQTT, verify signed metadata, download a 1 MiB OS image over mutual
// TLS, install, reboot, re-attest, report), timed from the deployment to
// its completion; image bytes/s served by the updates service's device
// endpoint against raw node:http serving the same bytes in the same run;
// and the share of the fleet that received a crashing version before its
// rollout aborted itself.
//
// BENCH_ROLLOUT_DEVICES sets the fleet (1,000), BENCH_ROLLOUT_PROCESSES the fleet
// processes (2); BENCH_PROFILE_DIR=<dir> writes CPU profiles of the updates
// service and the fleet processes there.
import { constants as tlsConstants, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fork } from 'node:child_process';
import { DEMO_HARDWARE, encodeImage, sampleAppImage } from '@rampart/emulator';
import { createTestTenantIssuer } from '@rampart/testing';
import { ImageSigner, loadOrCreateDevelopmentPki } from '@rampart/trust';
import { cpuAccount } from './lib/cpu.js';
import { createBenchDatabase } from './lib/database.js';
import { startBenchAttestation } from './lib/attestation.js';
import { startBenchGateway } from './lib/gateway.js';
import { startNode } from './lib/processes.js';
import { REPO_ROOT, writeReport } from './lib/report.js';

const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const DEVICES = Number(process.env.BENCH_ROLLOUT_DEVICES ?? 1000);
const IMAGE_BYTES = 1024 * 1024;
/** Serving comparison: this many clients at once, each fetching the image this many times. */
const SERVE_CLIENTS = 20;
const SERVE_ROUNDS = 25;
/** Each server is measured this many times, turn about; the median counts (a shared machine is noisy). */
const SERVE_TRIALS = 3;
/** The fleet is split over this many processes: one is one thread, and 1,000 devices' hashing and booting saturate it. */
const FLEET_PROCESSES = Number(process.env.BENCH_ROLLOUT_PROCESSES ?? 2);

/**
 * The fleet as FLEET_PROCESSES child processes (bench/lib/rollout-fleet-child.js),
 * with their progress summed and, on stop, their reports summed.
 */
function startFleet(env) {
  const shares = Array.from(
    { length: FLEET_PROCESSES },
    (_, i) => Math.floor(DEVICES / FLEET_PROCESSES) + (i < DEVICES % FLEET_PROCESSES ? 1 : 0),
  );
  const children = shares.map((devices) => {
    const child = fork(join(REPO_ROOT, 'bench/lib/rollout-fleet-child.js'), [], {
      env: { ...process.env, ...env, FLEET_DEVICES: String(devices) },
      execArgv: [
        '--max-old-space-size=8192',
        ...(process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}/fleet`] : []),
      ],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const state = { progress: { attested: 0, online: 0 }, report: undefined, exited: false, child };
    child.on('message', (m) => {
      if (m.progress !== undefined) state.progress = m.progress;
      if (m.report !== undefined) state.report = m.report;
    });
    state.done = new Promise((resolve) =>
      child.once('exit', (code) => {
        state.exited = true;
        resolve(code);
      }),
    );
    return state;
  });
  return {
    pids: children.map((c) => c.child.pid),
    progress() {
      if (children.some((c) => c.exited && c.report === undefined)) throw new Error('a fleet process exited early');
      return {
        attested: children.reduce((n, c) => n + c.progress.attested, 0),
        online: children.reduce((n, c) => n + c.progress.online, 0),
      };
    },
    async stop() {
      for (const c of children) if (!c.exited) c.child.send('stop');
      await Promise.all(children.map((c) => c.done));
      const reports = children.map((c) => c.report);
      if (reports.some((r) => r === undefined)) throw new Error('a fleet process ended without its report');
      return {
        updatesInstalled: reports.reduce((n, r) => n + r.updatesInstalled, 0),
        updatesFailed: reports.reduce((n, r) => n + r.updatesFailed, 0),
      };
    },
  };
}

function until(predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = async () => {
      try {
        const value = await predicate();
        if (value) return resolve(value);
      } catch (error) {
        // A poll that failed on the way (a kept-alive connection the server closed under load) is tried again;
        // a verdict the predicate throws on purpose ends the wait.
        if (!(error instanceof TypeError)) return reject(error);
        process.stdout.write(`    (poll failed: ${error.message}; trying again)\n`);
      }
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 250);
    };
    void poll();
  });
}

/** Downloads `path` `rounds` times on each of `clients` concurrent loops; bytes per second overall. */
async function serveRate(fetchOnce) {
  const started = performance.now();
  let bytes = 0;
  await Promise.all(
    Array.from({ length: SERVE_CLIENTS }, async () => {
      for (let i = 0; i < SERVE_ROUNDS; i++) {
        // Not `bytes += await …`: that reads `bytes` before the await, and the other loops' additions are lost.
        const received = await fetchOnce();
        bytes += received;
      }
    }),
  );
  return Math.round(bytes / ((performance.now() - started) / 1000));
}

function drain(res, resolve, reject) {
  let n = 0;
  res.on('data', (c) => (n += c.length));
  res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`HTTP ${res.statusCode}`))));
  res.on('error', reject);
}

export async function run() {
  const dir = await mkdtemp(join(tmpdir(), 'rampart-bench-rollout-'));
  const db = await createBenchDatabase();
  const prefix = `bench${randomBytes(4).toString('hex')}`;
  const processes = [];
  const pkiDir = join(dir, 'pki');
  const pki = await loadOrCreateDevelopmentPki(pkiDir);
  let fleet;
  try {
    // Firmware signing keys the bench and the fleet processes share: the bench signs the updates.
    const firmwareSigners = {};
    for (const role of ['platform', 'apps']) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await writeFile(join(pkiDir, `firmware-${role}.key`), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      firmwareSigners[role] = ImageSigner.fromPrivateKey(privateKey);
    }
    const attestation = await startBenchAttestation({ dbUrl: db.url, natsUrl: NATS_URL, prefix, pkiDir, tenantId: 'bench' });
    processes.push(attestation.process);
    const common = { DATABASE_URL: db.url, NATS_URL, BUS_PREFIX: prefix, HTTP_PORT: '0' };
    processes.push(
      await startNode(join(REPO_ROOT, 'services/failures/dist/main.js'), common, (l) => l.msg === 'failures listening', 60_000),
    );
    const gateway = await startBenchGateway({ natsUrl: NATS_URL, prefix, pkiDir, devListener: false });
    processes.push(gateway);
    const updates = await startNode(
      join(REPO_ROOT, 'services/updates/dist/main.js'),
      {
        ...common,
        UPDATES_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        DEVICE_HOST: '127.0.0.1',
        DEVICE_PORT: '0',
        TLS_CERT_FILE: join(pkiDir, 'gateway.crt'),
        TLS_KEY_FILE: join(pkiDir, 'gateway.key'),
        PLATFORM_CA_FILE: join(pkiDir, 'platform-ca.crt'),
        ROLLOUT_TICK_MS: '250',
        ...(process.env.BENCH_ROLLOUT_IMAGE_STREAMS ? { DEVICE_IMAGE_STREAMS: process.env.BENCH_ROLLOUT_IMAGE_STREAMS } : {}),
        ...(process.env.BENCH_PROFILE_DIR ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}` } : {}),
      },
      (l) => l.msg === 'updates listening',
      60_000,
    );
    processes.push(updates);
    const devicePort = Number(updates.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('device update endpoint')).port);
    const api = async (method, path, body) => {
      const binary = Buffer.isBuffer(body);
      const r = await fetch(`${updates.line.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${attestation.token}`,
          ...(body === undefined ? {} : { 'content-type': binary ? 'application/octet-stream' : 'application/json' }),
        },
        body: body === undefined ? undefined : binary ? new Uint8Array(body) : JSON.stringify(body),
      });
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
      const text = await r.text();
      return text === '' ? undefined : JSON.parse(text);
    };
    const release = async (image) => {
      const uploaded = await api('POST', '/v1/images', encodeImage(image));
      await api('POST', `/v1/images/${uploaded.sha256}/release`);
      return uploaded.sha256;
    };
    const product = await api('POST', '/v1/products', { name: 'bench' });
    const group = product.groups.find((g) => g.name === 'Production').id;
    const os = await release(
      firmwareSigners.platform.sign(
        { component: 'os', version: '2.0.0', securityVersion: 2, hardware: DEMO_HARDWARE },
        randomBytes(IMAGE_BYTES),
      ),
    );

    const setupStarted = performance.now();
    fleet = startFleet({
      FLEET_PKI_DIR: pkiDir,
      FLEET_GATEWAY_PORT: String(gateway.line.port),
      FLEET_UPDATES_PORT: String(devicePort),
      FLEET_ATTESTATION_API: attestation.api,
      FLEET_UPDATES_API: updates.line.url,
      FLEET_TOKEN: attestation.token,
      FLEET_GROUP: group,
    });
    const attested = () => fleet.progress().attested;
    const online = () => fleet.progress().online;
    await until(() => attested() >= DEVICES, 600_000, 'every device attested');
    process.stdout.write(`  ${DEVICES} devices attested in ${((performance.now() - setupStarted) / 1000).toFixed(1)} s\n`);

    const cpu = cpuAccount(
      {
        updates: updates.child.pid,
        gateway: gateway.child.pid,
        attestation: attestation.process.child.pid,
        ...Object.fromEntries(fleet.pids.map((pid, i) => [`fleet${i + 1}`, pid])),
      },
      { postgres: 'postgres', nats: 'nats-server' },
    );
    const rolloutStarted = performance.now();
    const good = await api('POST', '/v1/deployments', {
      groupId: group,
      images: [os],
      rollout: {
        waves: { kind: 'percent', percents: [1, 10, 50, 100] },
        deviceTimeoutMinutes: 5,
        abort: [{ failureType: 'ALL', minExecuted: 10, thresholdPercentage: 20 }],
      },
    });
    let lastPrint = 0;
    const done = await until(
      async () => {
        const s = await api('GET', `/v1/deployments/${good.id}`);
        if (Date.now() - lastPrint > 10_000) {
          lastPrint = Date.now();
          process.stdout.write(
            `    wave ${s.deployment.currentWave + 1}/${s.deployment.waves}: ${JSON.stringify(s.counts)}, ${online()} devices online\n`,
          );
        }
        if (s.deployment.state === 'aborted' || s.deployment.state === 'paused')
          throw new Error(
            `the OS rollout stopped: ${s.deployment.reason}; first failed devices: ${JSON.stringify(s.devices.filter((d) => d.state === 'failed').slice(0, 3))}`,
          );
        return s.deployment.state === 'completed' ? s : undefined;
      },
      600_000,
      'the OS rollout to complete',
    );
    const rolloutSeconds = (performance.now() - rolloutStarted) / 1000;
    const cpuSeconds = cpu.stop();
    process.stdout.write(
      `  OS rollout: ${DEVICES} devices in ${rolloutSeconds.toFixed(1)} s (${JSON.stringify(done.counts)}); CPU s ${JSON.stringify(cpuSeconds)}\n`,
    );

    const crashing = await release(sampleAppImage('sensor-1.1', firmwareSigners.apps, DEMO_HARDWARE));
    const bad = await api('POST', '/v1/deployments', {
      groupId: group,
      images: [os, crashing],
      rollout: {
        waves: { kind: 'percent', percents: [1, 10, 100] },
        deviceTimeoutMinutes: 5,
        abort: [{ failureType: 'ALL', minExecuted: 5, thresholdPercentage: 50 }],
      },
    });
    // It stops itself: aborted by its criteria, or paused by its install gate when its first wave is smaller than their minimum.
    const aborted = await until(
      async () => {
        const s = await api('GET', `/v1/deployments/${bad.id}`);
        return s.deployment.state === 'aborted' || s.deployment.state === 'paused' ? s : undefined;
      },
      300_000,
      'the crashing rollout to stop itself',
    );
    const received = aborted.devices.filter((d) => d.state !== 'pending').length;
    const crashingShare = received / DEVICES;
    process.stdout.write(
      `  crashing app: ${aborted.deployment.state} (${aborted.deployment.reason}); ${received} of ${DEVICES} devices received it (${(crashingShare * 100).toFixed(2)} %)\n`,
    );
    const fleetReport = await fleet.stop();
    fleet = undefined;

    // Serving: the device endpoint (mutual TLS, bytes from PostgreSQL) against node:http from memory, same bytes and clients.
    const issue = await createTestTenantIssuer(pki.platformCa, 'bench');
    const { manufactureDevice } = await import('@rampart/emulator');
    const client = await manufactureDevice(pki.manufacturerCa);
    const certificate = issue(client);
    const context = client.security.tlsContext(`${certificate.certificatePem}${certificate.chainPem}`, pki.platformCa.certificatePem);
    // A new connection per download for both servers (ours: a full mutual-TLS handshake each time, so conservative).
    const fetchOurs = () =>
      new Promise((resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port: devicePort,
            path: `/v1/images/${os}`,
            servername: 'localhost',
            secureContext: context,
            agent: false,
          },
          (res) => drain(res, resolve, reject),
        );
        req.on('error', reject);
        req.end();
      });
    const bytes = randomBytes(IMAGE_BYTES + 200);
    const raw = createServer((req, res) => {
      res.writeHead(200, { 'content-length': bytes.length });
      res.end(bytes);
    });
    await new Promise((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const fetchRaw = () =>
      new Promise((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: raw.address().port, path: '/', agent: false }, (res) =>
          drain(res, resolve, reject),
        );
        req.on('error', reject);
        req.end();
      });
    // For the record, not the goal: node:https from memory with the same mutual-TLS handshake (what TLS alone costs).
    const bareTls = createHttpsServer(
      {
        cert: await readFile(join(pkiDir, 'gateway.crt')),
        key: await readFile(join(pkiDir, 'gateway.key')),
        ca: pki.platformCa.certificatePem,
        requestCert: true,
        rejectUnauthorized: true,
        secureOptions: tlsConstants.SSL_OP_NO_TICKET,
      },
      (req, res) => {
        res.writeHead(200, { 'content-length': bytes.length });
        res.end(bytes);
      },
    );
    await new Promise((resolve) => bareTls.listen(0, '127.0.0.1', resolve));
    const fetchBareTls = () =>
      new Promise((resolve, reject) => {
        const req = httpsRequest(
          { host: '127.0.0.1', port: bareTls.address().port, path: '/', servername: 'localhost', secureContext: context, agent: false },
          (res) => drain(res, resolve, reject),
        );
        req.on('error', reject);
        req.end();
      });
    const oursTrials = [];
    const rawTrials = [];
    const bareTlsTrials = [];
    for (let trial = 0; trial < SERVE_TRIALS; trial++) {
      oursTrials.push(await serveRate(fetchOurs));
      rawTrials.push(await serveRate(fetchRaw));
      bareTlsTrials.push(await serveRate(fetchBareTls));
    }
    raw.close();
    bareTls.close();
    const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const ours = median(oursTrials);
    const rawRate = median(rawTrials);
    const bareTlsRate = median(bareTlsTrials);
    const mib = (v) => Math.round((v / 1024 / 1024) * 10) / 10;
    process.stdout.write(
      `  serving: ours ${mib(ours)} MiB/s (mutual TLS, PostgreSQL chunks) vs raw node:http ${mib(rawRate)} MiB/s; node:https with the same mutual TLS ${mib(bareTlsRate)} MiB/s (ours ${(ours / bareTlsRate).toFixed(2)}x of it)\n`,
    );
    return writeReport({
      name: 'rollout',
      value: ours,
      unit: 'image bytes/s served',
      baseline: 'raw node:http serving the same bytes from memory',
      baseline_value: rawRate,
      goal: 'rollout <= 60 s for 1,000 devices; serving >= 0.5x raw; crashing version reaches <= 2 % of the fleet',
      devices: DEVICES,
      imageBytes: IMAGE_BYTES,
      rolloutSeconds: Math.round(rolloutSeconds * 10) / 10,
      rolloutCounts: done.counts,
      waves: done.deployment.waves,
      cpuSeconds,
      crashingShare,
      crashingReceived: received,
      crashingStoppedAs: aborted.deployment.state,
      abortReason: aborted.deployment.reason,
      updatesInstalledOnDevices: fleetReport.updatesInstalled,
      updatesFailedOnDevices: fleetReport.updatesFailed,
      servedMiBPerSecond: mib(ours),
      servedTrialsMiBPerSecond: oursTrials.map(mib),
      rawTrialsMiBPerSecond: rawTrials.map(mib),
      sameTlsMiBPerSecond: mib(bareTlsRate),
      sameTlsTrialsMiBPerSecond: bareTlsTrials.map(mib),
      rawMiBPerSecond: mib(rawRate),
    });
  } catch (error) {
    // What the services said before it went wrong.
    for (const p of processes) {
      for (const l of [...p.lines.filter((x) => x.level >= 50), ...p.stderr].slice(-10))
        process.stderr.write(`  ${JSON.stringify(l).slice(0, 400)}\n`);
      if (p.child.exitCode !== null) process.stderr.write(`  a service exited with ${p.child.exitCode}\n`);
    }
    throw error;
  } finally {
    if (fleet !== undefined) await fleet.stop().catch(() => undefined);
    for (const p of processes.reverse()) await p.stop();
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  }
}
