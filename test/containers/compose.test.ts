import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, freePort, waitFor, type TestDatabase } from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { containerTierSkipped, logTail } from './support/docker.js';
import { StandaloneNats } from './support/nats-server.js';

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
/** As make images names it (IMAGE), handed to Compose as RAMPART_IMAGE. */
const IMAGE = process.env['IMAGE'] ?? 'rampart:dev';
const DEVICES = 20;
/** Rampart's workloads in docker/compose.yaml; NATS, PostgreSQL, Prometheus and Grafana are the machine's or absent here. */
const SERVICES = ['gateway', 'attestation', 'telemetry', 'failures', 'updates', 'api'] as const;
const ONE_SHOTS = ['init', 'migrate'] as const;
const NOT_RUN_HERE = ['nats', 'postgres', 'prometheus', 'grafana'] as const;

/** Without a Docker engine the test is skipped, saying why; with one, a missing compose tool or image fails it. */
const skipped = await containerTierSkipped();
if (skipped) process.stderr.write('compose.test: skipped, no Docker engine answers `docker info` (outside CI)\n');

interface ContainerState {
  readonly service: string;
  readonly id: string;
  readonly status: string;
  readonly health: string | undefined;
  readonly exitCode: number;
  readonly oomKilled: boolean;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly hostConfig: {
    readonly ReadonlyRootfs: boolean;
    readonly CapDrop: string[] | null;
    readonly SecurityOpt: string[] | null;
    readonly Memory: number;
    readonly Tmpfs: Record<string, string> | null;
    readonly NetworkMode: string;
  };
  readonly user: string;
}

/**
 * docker/compose.yaml with docker/compose.machine.yaml, run by Debian's
 * docker-compose 1.29 as a user runs Compose: its own NATS and database
 * stand in for the NATS and PostgreSQL containers (no image can be pulled
 * here), everything on loopback through host networking. A fresh `up`
 * generates the secrets and PKI, migrates, starts every service healthy and
 * a fleet whose demo setup makes its devices attest and store telemetry;
 * a second `up` keeps every secret; SIGTERM stops every container cleanly.
 */
describe.skipIf(skipped)('docker/compose.yaml (docker-compose 1.29, machine override)', () => {
  const project = `rampart-compose-${process.pid}`;
  let dir: string;
  let nats: StandaloneNats;
  let db: TestDatabase;
  let composeFile: string;
  let env: NodeJS.ProcessEnv;
  let ports: Record<'gateway' | 'mqtt' | 'attestation' | 'telemetry' | 'failures' | 'updates' | 'updatesDevice' | 'api', number>;
  let upStarted = 0;
  let firstStartMs = 0;
  let secretsAfterFirstStart: string[] = [];
  let demoToken = '';
  let firstDeviceIds: string[] = [];

  const compose = async (...args: string[]): Promise<string> => {
    const { stdout } = await exec('docker-compose', ['-p', project, '-f', composeFile, ...args], {
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  };

  const containers = async (): Promise<ContainerState[]> => {
    const ids = (await compose('ps', '-a', '-q')).split('\n').filter((id) => id !== '');
    if (ids.length === 0) return [];
    const { stdout } = await exec('docker', ['inspect', ...ids], { maxBuffer: 64 * 1024 * 1024 });
    const inspected = JSON.parse(stdout) as Array<{
      Id: string;
      Config: { Labels: Record<string, string>; User: string };
      State: { Status: string; Health?: { Status: string }; ExitCode: number; OOMKilled: boolean; StartedAt: string; FinishedAt: string };
      HostConfig: ContainerState['hostConfig'];
    }>;
    return inspected.map((c) => ({
      service: c.Config.Labels['com.docker.compose.service'] ?? '?',
      id: c.Id,
      status: c.State.Status,
      health: c.State.Health?.Status,
      exitCode: c.State.ExitCode,
      oomKilled: c.State.OOMKilled,
      startedAt: c.State.StartedAt,
      finishedAt: c.State.FinishedAt,
      hostConfig: c.HostConfig,
      user: c.Config.User,
    }));
  };

  /** Every one-shot exited 0, every service healthy, the fleet running; a one-shot that failed fails at once with its log. */
  const everyServiceHealthy = async (): Promise<ContainerState[] | false> => {
    const states = await containers();
    for (const name of ONE_SHOTS) {
      const state = states.find((s) => s.service === name);
      if (state?.status === 'exited' && state.exitCode !== 0)
        throw new Error(`${name} exited ${state.exitCode}: ${await logTail(state.id)}`);
      if (state?.status !== 'exited') return false;
    }
    for (const name of SERVICES) {
      const state = states.find((s) => s.service === name);
      if (state?.status === 'exited') throw new Error(`${name} exited ${state.exitCode}: ${await logTail(state.id)}`);
      if (state?.health !== 'healthy') return false;
    }
    return states.find((s) => s.service === 'fleet')?.status === 'running' ? states : false;
  };

  /** Every file of the secrets and firmware-signing volumes with its owner, mode and sha256, read by a throwaway container (as the services' user, read-only). */
  const secretsFingerprint = async (): Promise<string[]> => {
    const { stdout } = await exec('docker', [
      'run',
      '--rm',
      '--network',
      'none',
      '--user',
      '1000:1000',
      '-v',
      `${project}_secrets:/s/secrets:ro`,
      '-v',
      `${project}_firmware-signing:/s/firmware-signing:ro`,
      '--entrypoint',
      'sh',
      IMAGE,
      '-c',
      `cd /s && find . -type f | sort | while read f; do echo "$(stat -c '%u:%g %a' "$f") $(sha256sum "$f")"; done`,
    ]);
    return stdout.trim().split('\n');
  };

  const apiGet = async <T>(port: number, path: string, token: string): Promise<T> => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${token}` } });
    if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };

  beforeAll(async () => {
    await exec('docker', ['image', 'inspect', IMAGE]).catch(() => {
      throw new Error(`image ${IMAGE} is missing: run make images (or set IMAGE)`);
    });
    await exec('docker-compose', ['version']).catch(() => {
      throw new Error('docker-compose is missing: apt-get install docker-compose (Compose v2: docker compose)');
    });
    dir = await mkdtemp(join(tmpdir(), 'rampart-compose-'));
    [nats, db] = await Promise.all([StandaloneNats.start(), createTestDatabase()]);
    const [gateway, mqtt, attestation, telemetry, failures, updates, updatesDevice, api] = await Promise.all(
      Array.from({ length: 8 }, () => freePort()),
    );
    ports = { gateway, mqtt, attestation, telemetry, failures, updates, updatesDevice, api } as typeof ports;
    env = {
      ...process.env,
      RAMPART_IMAGE: IMAGE,
      RAMPART_NATS_URL: nats.url,
      RAMPART_DATABASE_URL: db.url,
      RAMPART_GATEWAY_HTTP_PORT: String(ports.gateway),
      RAMPART_MQTT_PORT: String(ports.mqtt),
      RAMPART_ATTESTATION_PORT: String(ports.attestation),
      RAMPART_TELEMETRY_PORT: String(ports.telemetry),
      RAMPART_FAILURES_PORT: String(ports.failures),
      RAMPART_UPDATES_PORT: String(ports.updates),
      RAMPART_UPDATES_DEVICE_PORT: String(ports.updatesDevice),
      RAMPART_API_PORT: String(ports.api),
      RAMPART_FLEET_DEVICES: String(DEVICES),
      RAMPART_FLEET_RATE: '1',
      RAMPART_LOG_LEVEL: 'warn',
    };
    // docker-compose 1.29 refuses published ports beside host networking and an override cannot remove them
    // (v2's `!reset` can): the two files merged by `config`, then each host-networked service's ports dropped.
    const { stdout } = await exec(
      'docker-compose',
      ['-p', project, '-f', join(ROOT, 'docker/compose.yaml'), '-f', join(ROOT, 'docker/compose.machine.yaml'), 'config'],
      { env },
    );
    // YAML 1.1 both ways, as docker-compose (PyYAML) reads it: `restart: "no"` must stay a string.
    const merged = parse(stdout, { version: '1.1' }) as { services: Record<string, { network_mode?: string; ports?: unknown }> };
    for (const service of Object.values(merged.services)) if (service.network_mode === 'host') delete service.ports;
    composeFile = join(dir, 'compose.yaml');
    await writeFile(composeFile, stringify(merged, { version: '1.1' }));

    upStarted = Date.now();
    await compose('up', '-d');
    await waitFor(everyServiceHealthy, { timeoutMs: 150_000, intervalMs: 500, describe: 'every Rampart service healthy' });
    firstStartMs = Date.now() - upStarted;
  }, 240_000);

  afterAll(async () => {
    if (composeFile !== undefined) {
      await compose('down', '-v', '--remove-orphans', '-t', '5').catch((error: unknown) => {
        process.stderr.write(`compose.test: down failed: ${String(error)}\n`);
      });
    }
    await db?.drop();
    await nats?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('starts every service healthy after init and migrate exit 0, with the chart hardening, and runs no NATS, PostgreSQL or Grafana container', async () => {
    const states = await containers();
    process.stderr.write(`compose.test: first start to every service healthy in ${(firstStartMs / 1000).toFixed(1)} s\n`);
    expect(states.map((s) => s.service).sort()).toEqual([...ONE_SHOTS, ...SERVICES, 'fleet'].sort());
    for (const name of NOT_RUN_HERE) expect(states.some((s) => s.service === name)).toBe(false);
    for (const state of states) {
      const where = `${state.service}: `;
      expect(where + state.user).toBe(`${where}1000:1000`);
      expect(where + String(state.hostConfig.ReadonlyRootfs)).toBe(`${where}true`);
      expect(where + (state.hostConfig.CapDrop ?? []).join()).toBe(`${where}ALL`);
      expect(where + (state.hostConfig.SecurityOpt ?? []).join()).toBe(`${where}no-new-privileges:true`);
      expect(where + Object.keys(state.hostConfig.Tmpfs ?? {}).join()).toBe(`${where}/tmp`);
      expect(where + state.hostConfig.NetworkMode).toBe(`${where}host`);
      expect(state.hostConfig.Memory, where).toBeGreaterThan(0);
    }
  });

  it("gives NATS and Prometheus configurations their own servers accept (the machine's nats-server 2.9 and promtool)", async () => {
    // The containers of NATS and Prometheus cannot run here; their binaries from Debian check what compose.yaml mounts.
    const nats = (await readFile(join(ROOT, 'docker/nats.conf'), 'utf8')).split('\n');
    // 2.9 predates sync_interval (2.10+; the image is 2.14.4): that one line is left out.
    const withoutSyncInterval = nats.filter((line) => !/^\s*sync_interval:\s*always$/.test(line));
    expect(nats.length - withoutSyncInterval.length).toBe(1);
    await writeFile(join(dir, 'nats.conf'), withoutSyncInterval.join('\n'));
    await exec('/usr/sbin/nats-server', ['-c', join(dir, 'nats.conf'), '-t']);
    const prometheus = await readFile(join(ROOT, 'docker/prometheus.yml'), 'utf8');
    await writeFile(join(dir, 'prometheus.yml'), prometheus.replace('/etc/prometheus/alerts.yml', join(dir, 'alerts.yml')));
    await writeFile(join(dir, 'alerts.yml'), await readFile(join(ROOT, 'charts/rampart/alerts/rampart.rules.yml')));
    const { stdout } = await exec('promtool', ['check', 'config', join(dir, 'prometheus.yml')]);
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('generates the secrets and the PKI on first start, readable by the services and their group only', async () => {
    const files = await secretsFingerprint();
    const names = files.map((line) => line.split(' ').at(-1)).sort();
    expect(names).toEqual(
      [
        'secrets/ca-key-encryption-key',
        'secrets/database-url',
        'secrets/grafana-admin-password',
        'secrets/platform-admin-token',
        'secrets/postgres-password',
        'secrets/updates-key-encryption-key',
        'secrets/pki/gateway.crt',
        'secrets/pki/gateway.key',
        'secrets/pki/manufacturer-ca.crt',
        'secrets/pki/manufacturer-ca.key',
        'secrets/pki/platform-ca.crt',
        'secrets/pki/platform-ca.key',
        'firmware-signing/apps.key',
        'firmware-signing/platform.key',
      ]
        .map((n) => `./${n}`)
        .sort(),
    );
    for (const line of files) {
      const [owner, mode, , name] = line.split(/\s+/);
      expect(`${name} ${owner}`).toBe(`${name} 1000:1000`);
      expect(['440', '600', '644'], `${name} mode ${mode}`).toContain(mode);
      if (name?.startsWith('./secrets/pki/') === true && name.endsWith('.key')) expect(`${name} ${mode}`).toBe(`${name} 600`);
    }
    const init = (await containers()).find((s) => s.service === 'init');
    const { stdout } = await exec('docker', ['logs', init?.id ?? '']);
    expect(stdout).toMatch(/kept none/);
  });

  it("attests every device of the fleet and stores its telemetry, as the demo tenant's token shows through the API front", async () => {
    const token = await waitFor(
      async () => (await compose('exec', '-T', 'fleet', 'cat', '/var/lib/rampart/fleet/tenant-demo.token')).trim() || false,
      { timeoutMs: 60_000, intervalMs: 1_000, describe: "the demo tenant's token in the fleet's volume" },
    );
    demoToken = token;
    const attested = await waitFor(
      async () => {
        // Through the one base URL: the front routes each path to the service whose OpenAPI document declares it.
        const devices = await apiGet<Array<{ id: string; lastPass: boolean | null }>>(ports.api, '/v1/devices?limit=1000', token);
        return devices.length === DEVICES && devices.every((d) => d.lastPass === true) ? devices : false;
      },
      { timeoutMs: 90_000, intervalMs: 1_000, describe: `${DEVICES} devices of the demo tenant attested` },
    );
    const stored = await waitFor(
      async () => {
        const stats = await apiGet<{ readingsStored: number; devices: number }>(ports.api, '/v1/telemetry/stats', token);
        return stats.devices === DEVICES && stats.readingsStored >= DEVICES ? stats : false;
      },
      { timeoutMs: 60_000, intervalMs: 1_000, describe: `telemetry stored from all ${DEVICES} devices` },
    );
    firstDeviceIds = attested.map((d) => d.id).sort();
    // The same answer as the service's own port, and one merged OpenAPI document for all four.
    const ids = async (port: number) =>
      (await apiGet<Array<{ id: string }>>(port, '/v1/devices?limit=1000', token)).map((d) => d.id).sort();
    expect(await ids(ports.api)).toEqual(await ids(ports.attestation));
    const document = await apiGet<{ paths: Record<string, unknown> }>(ports.api, '/openapi.json', token);
    for (const path of ['/v1/devices', '/v1/telemetry/stats', '/v1/failure-buckets', '/v1/deployments'])
      expect(Object.keys(document.paths)).toContain(path);
    process.stderr.write(
      `compose.test: ${attested.length} devices attested, ${stored.readingsStored} readings stored from ${stored.devices} devices, ` +
        `${((Date.now() - upStarted) / 1000).toFixed(1)} s after the first up\n`,
    );
  });

  it('stops every container on SIGTERM with exit 0, within its stop_grace_period', async () => {
    secretsAfterFirstStart = await secretsFingerprint();
    const stopped = Date.now();
    await compose('stop');
    const states = await containers();
    const report = states.map((s) => `${s.service} ${s.exitCode} ${((Date.parse(s.finishedAt) - stopped) / 1000).toFixed(1)}s`);
    process.stderr.write(`compose.test: stopped (service, exit code, seconds after stop): ${report.join(', ')}\n`);
    // A container killed at the end of its grace period exits 137; 0 means it closed by itself on SIGTERM.
    for (const state of states)
      expect(`${state.service} exit ${state.exitCode} oom ${state.oomKilled}`).toBe(`${state.service} exit 0 oom false`);
  });

  it("keeps every secret, the PKI and the fleet's devices when down and up again make new containers on the same volumes", async () => {
    await compose('down');
    const again = Date.now();
    await compose('up', '-d');
    await waitFor(everyServiceHealthy, { timeoutMs: 150_000, intervalMs: 500, describe: 'every service healthy after down and up' });
    process.stderr.write(
      `compose.test: second start (volumes kept) to every service healthy in ${((Date.now() - again) / 1000).toFixed(1)} s\n`,
    );
    expect(await secretsFingerprint()).toEqual(secretsAfterFirstStart);
    const init = (await containers()).find((s) => s.service === 'init');
    const { stdout } = await exec('docker', ['logs', init?.id ?? '']);
    expect(stdout.trim()).toMatch(/created none; kept .*platform-admin-token.*pki$/);
    // The same devices (identities on the fleet's volume) attest again for the same demo tenant (its token kept there too).
    await waitFor(
      async () => {
        const devices = await apiGet<Array<{ id: string; lastAttestedAt: string | null }>>(
          ports.attestation,
          '/v1/devices?limit=1000',
          demoToken,
        );
        const ids = devices.map((d) => d.id).sort();
        return JSON.stringify(ids) === JSON.stringify(firstDeviceIds) && devices.every((d) => Date.parse(d.lastAttestedAt ?? '') > again);
      },
      { timeoutMs: 90_000, intervalMs: 1_000, describe: `the same ${DEVICES} devices attested again after the second start` },
    );
    process.stderr.write(
      `compose.test: the same ${DEVICES} devices attested again ${((Date.now() - again) / 1000).toFixed(1)} s after the second up\n`,
    );
  });
});
