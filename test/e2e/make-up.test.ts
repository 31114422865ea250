import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PORTS } from '@rampart/contracts/ports';
import { TEST_POSTGRES_URL, queryDatabase, removeBusPrefix, uniqueBusPrefix, waitFor } from '@rampart/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { ENTRY, REPO_ROOT } from '../support/service-process.js';

const API = `http://127.0.0.1:${DEFAULT_PORTS.api}`;

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * `make up` as a user runs it: scripts/up-distributed.sh starts every service
 * as its own process on the default ports against the machine's NATS and
 * PostgreSQL (creating the database), makes the demo tenant, and says it is up;
 * `rampart fleet run` drives devices at it; Ctrl-C stops everything.
 */
describe('make up (distributed mode on one machine)', () => {
  const database = `rampart_up_${process.pid}_${Date.now()}`;
  const busPrefix = uniqueBusPrefix();
  let dataDir = '';
  let script: ChildProcess | undefined;
  let stderr = '';

  afterAll(async () => {
    if (script?.pid !== undefined && script.exitCode === null) process.kill(-script.pid, 'SIGKILL');
    await queryDatabase(TEST_POSTGRES_URL, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
    await removeBusPrefix(busPrefix).catch(() => undefined);
    if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
  });

  it('starts every service, serves the API, takes a fleet, and stops them all on Ctrl-C', async () => {
    for (const port of Object.values(DEFAULT_PORTS)) expect(await listening(port), `port ${port} is free before the test`).toBe(false);
    dataDir = await mkdtemp(join(tmpdir(), 'rampart-up-'));
    // Its own process group, as a terminal's foreground job: Ctrl-C signals the whole group.
    script = spawn('bash', ['scripts/up-distributed.sh'], {
      cwd: REPO_ROOT,
      detached: true,
      env: { ...process.env, RAMPART_DATA_DIR: dataDir, RAMPART_DB: database, BUS_PREFIX: busPrefix, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    script.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => script!.once('exit', (code) => resolve(code)));
    await waitFor(() => stderr.includes('Rampart (distributed) is up') || script!.exitCode !== null, {
      timeoutMs: 120_000,
      describe: `the "is up" banner (stderr so far: ${stderr.slice(-2000)})`,
    });
    expect(script.exitCode, stderr).toBeNull();

    const ready = (await (await fetch(`${API}/readyz`)).json()) as { ready: boolean; missing: string[] };
    expect(ready).toMatchObject({ ready: true, missing: [] });

    const token = (await readFile(join(dataDir, 'secrets', 'tenant-demo.token'), 'utf8')).trim();
    const fleet = spawnSync(
      process.execPath,
      [
        ENTRY.cli,
        'fleet',
        'run',
        '--devices',
        '3',
        '--duration',
        '3s',
        '--gateway',
        `127.0.0.1:${DEFAULT_PORTS.mqtt}`,
        '--pki',
        join(dataDir, 'pki'),
        '--report-dir',
        join(dataDir, 'report'),
        '-o',
        'json',
      ],
      { cwd: REPO_ROOT, env: { ...process.env, RAMPART_API: API, RAMPART_TOKEN: token }, encoding: 'utf8', timeout: 120_000 },
    );
    expect(fleet.status, fleet.stderr).toBe(0);
    const report = JSON.parse(fleet.stdout) as { devicesAttested: number; acknowledged: number; unacknowledged: number };
    expect(report.devicesAttested).toBe(3);
    expect(report.acknowledged).toBeGreaterThan(0);
    expect(report.unacknowledged).toBe(0);

    // The readings reached the telemetry services through the front.
    const devices = await fetch(`${API}/v1/telemetry/devices`, { headers: { authorization: `Bearer ${token}` } });
    expect(devices.status).toBe(200);

    process.kill(-script.pid!, 'SIGINT');
    expect(await exited).not.toBeNull();
    for (const port of Object.values(DEFAULT_PORTS)) {
      await waitFor(async () => !(await listening(port)), { timeoutMs: 30_000, describe: `port ${port} released after Ctrl-C` });
    }
  });
});
