import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { DEMO_HARDWARE, demoFirmwareSigners, platformImage } from '@rampart/emulator';
import { encodeImage } from '@rampart/trust';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedPlatform } from '@rampart/embedded';
import { startTestPlatform } from '../../embedded/test/support/test-platform.js';
import { runCli, type CliRun } from './support/run-cli.js';

/** A port nothing listens on: taken from the OS, then released. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * The built `rampart` binary as a user runs it: its config in a temporary
 * XDG_CONFIG_HOME and HOME, against the embedded platform's one API base
 * URL (the API front).
 */
describe('rampart (the built binary)', () => {
  let dir: string;
  let platform: EmbeddedPlatform;
  let env: Record<string, string>;
  const rampart = (...args: string[]): Promise<CliRun> => runCli(args, env);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-cli-'));
    platform = await startTestPlatform(join(dir, 'platform'));
    env = { HOME: join(dir, 'home'), XDG_CONFIG_HOME: join(dir, 'config') };
  });

  afterAll(async () => {
    await platform?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts fast: --help (timed, not asserted: the machine is shared)', async () => {
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const help = await rampart('--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('deployment');
      runs.push(help.ms);
    }
    runs.sort((a, b) => a - b);
    console.log(`rampart --help: median ${runs[2]!.toFixed(0)} ms of 5 runs (${runs.map((r) => r.toFixed(0)).join(', ')})`);
  });

  it('without a context, says to log in', async () => {
    const run = await rampart('product', 'list');
    expect(run).toMatchObject({ code: 1, stdout: '' });
    expect(run.stderr).toMatch(/^error: not logged in: run rampart login --api URL/);
  });

  it('logs in with a token from stdin, keeps the context 0600, and never prints the token', async () => {
    const token = platform.tenant.adminToken;
    const bad = await runCli(['login', '--api', platform.api.url, '--token-stdin'], env, 'rmp_not-a-real-token\n');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: the API at .* refused this token .*\(HTTP 401\)/);
    const login = await runCli(['login', '--api', platform.api.url, '--name', 'demo', '--token-stdin'], env, `${token}\n`);
    expect(login.stderr).toBe('');
    expect(login.code).toBe(0);
    expect(login.stdout).toMatch(
      `Logged in to ${platform.api.url} as Administrator of tenant ${platform.tenant.id}. Context "demo" is current`,
    );
    const file = join(dir, 'config', 'rampart', 'config.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({
      contexts: { demo: { api: platform.api.url, token } },
      current: 'demo',
    });

    const closed = await closedPort();
    const other = await runCli(['login', '--api', `http://127.0.0.1:${closed}`, '--name', 'nowhere', '--token-stdin'], env, `${token}\n`);
    expect(other.stderr).toBe(`error: cannot reach http://127.0.0.1:${closed} (ECONNREFUSED)\n`);

    const list = await rampart('context', 'list');
    expect(list.stdout.split('\n')[0]).toMatch(/^CURRENT\s+NAME\s+API$/);
    expect(list.stdout).toMatch(/^\*\s+demo\s+http:\/\/127\.0\.0\.1:\d+$/m);
    for (const output of [list, login, await rampart('context', 'list', '-o', 'yaml'), await rampart('context', 'list', '-o', 'json')])
      expect(output.stdout + output.stderr).not.toContain(token);
    expect(await rampart('context', 'use', 'staging')).toMatchObject({ code: 1, stderr: 'error: no context "staging"; known: demo\n' });
    expect(await rampart('context', 'use', 'demo')).toMatchObject({ code: 0 });
  });

  it('logs the platform operator in (whoami answers its token 200), and saves nothing when the API refuses a token', async () => {
    const operatorToken = (await readFile(join(dir, 'platform', 'secrets', 'platform-operator.token'), 'utf8')).trim();
    const file = join(dir, 'config', 'rampart', 'config.json');
    const before = await readFile(file, 'utf8');
    const bad = await runCli(['login', '--api', platform.api.url, '--name', 'bad', '--token-stdin'], env, `${operatorToken}x\n`);
    expect(bad).toMatchObject({ code: 1, stdout: '' });
    expect(bad.stderr).toMatch(/^error: the API at .* refused this token .*\(HTTP 401\)/);
    expect(await readFile(file, 'utf8')).toBe(before);

    const login = await runCli(['login', '--api', platform.api.url, '--name', 'operator', '--token-stdin'], env, `${operatorToken}\n`);
    expect(login.stderr).toBe('');
    expect(login.stdout).toMatch(`Logged in to ${platform.api.url} as the platform operator. Context "operator" is current`);
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({
      contexts: { operator: { api: platform.api.url, token: operatorToken } },
    });
    expect(await rampart('context', 'use', 'demo')).toMatchObject({ code: 0 });
  });

  it('lists in table, json and yaml, with relative times in tables and ISO times otherwise', async () => {
    const tokens = await rampart('tenant', 'token', 'list');
    expect(tokens.code).toBe(0);
    expect(tokens.stdout).toMatch(/^ID\s+ROLE\s+STATUS\s+EXPIRES\s+AGE\n[0-9a-f]{8}\s+Administrator\s+active\s+never\s+\d+[smh] ago\n/);
    const json = JSON.parse((await rampart('tenant', 'token', 'list', '-o', 'json')).stdout) as Array<{ createdAt: string }>;
    expect(json[0]!.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    const yaml = parseYaml((await rampart('tenant', 'token', 'list', '-o', 'yaml')).stdout) as Array<{ role: string }>;
    expect(yaml[0]!.role).toBe('Administrator');
    const reader = await rampart('tenant', 'token', 'create', 'reader');
    expect(reader.stdout).toMatch(/^ID\s+ROLE\s+TOKEN \(shown once\)\n[0-9a-f]{8}\s+Reader\s+\S+$/m);
    const boss = await rampart('tenant', 'token', 'create', 'boss');
    expect(boss.code).toBe(1);
    expect(boss.stderr).toMatch(/expected one of Administrator, Contributor, Reader \(any case\), got "boss"/);
  });

  it('shows CA certificates and the attestation log, and downloads a public trust bundle without a token', async () => {
    const cas = await rampart('ca-certificate', 'list');
    expect(cas.stdout).toMatch(/^STATUS\s+EXPIRES\n/);
    expect(cas.stdout).toMatch(/^root\s+in \d+d$/m);
    expect(cas.stdout).not.toContain('BEGIN CERTIFICATE');
    expect((await rampart('ca-certificate', 'list', '-o', 'json')).stdout).toContain('BEGIN CERTIFICATE');
    expect(await rampart('attestation', 'log')).toMatchObject({ code: 0, stdout: 'No attestations yet.\n' });
    expect(await rampart('telemetry', 'devices')).toMatchObject({ code: 0, stdout: 'No devices have sent telemetry.\n' });
    const bundle = await runCli(['ca-certificate', 'download', platform.tenant.id, '--api', platform.api.url], {
      HOME: join(dir, 'nobody'),
    });
    expect(bundle).toMatchObject({ code: 0, stderr: '' });
    expect(bundle.stdout.match(/BEGIN CERTIFICATE/g)?.length).toBeGreaterThanOrEqual(2);
  });

  it('names the valid values: boot stages from the API, windows and choices from the CLI', async () => {
    const operator = (await readFile(join(dir, 'platform', 'secrets', 'platform-operator.token'), 'utf8')).trim();
    const stage = await rampart('measurement', 'release', 'kernel', 'ab'.repeat(32), '--token', operator);
    expect(stage.code).toBe(1);
    expect(stage.stderr).toMatch(/^error: .*a boot stage: rom, bootloader, security-monitor, os or app:<name>.*\(HTTP 400\)/);
    const window = await rampart('device-group', 'update', 'x', '--window', 'banana');
    expect(window.stderr).toMatch(
      /--window <start-end>' argument 'banana' is invalid\. expected START-END in UTC hours \(e\.g\. 2-5\) or "any"/,
    );
    expect((await rampart('image', 'list', '--status', 'new')).stderr).toMatch(/Allowed choices are uploaded, released, revoked/);
    expect((await rampart('product', 'list', '-o', 'xml')).stderr).toMatch(/Allowed choices are table, wide, json, yaml/);
  });

  it('rolls an image out by names and prefixes, watches it, and refuses ids that are not ids', async () => {
    const file = join(dir, 'os-2.0.0.rimg');
    await writeFile(file, encodeImage(platformImage('os', '2.0.0', 2, demoFirmwareSigners(), DEMO_HARDWARE)));
    const upload = await rampart('image', 'upload', file);
    expect(upload.stdout).toMatch(
      /^DIGEST\s+COMPONENT\s+VERSION\s+SECURITY VERSION\s+STATUS\s+AGE\n[0-9a-f]{12}\s+os\s+2\.0\.0\s+2\s+uploaded\s+\d+s ago$/m,
    );
    expect(await rampart('image', 'release', 'os@2.0.0')).toMatchObject({ code: 0, stderr: '' });
    expect(await rampart('product', 'create', 'Thermo')).toMatchObject({ code: 0, stderr: '' });
    const groups = await rampart('device-group', 'list', '--product', 'Thermo');
    expect(groups.stdout).toMatch(/^[0-9a-f]{8}\s+Thermo\s+Field Test\s+/m);
    const junk = join(dir, 'junk.rimg');
    await writeFile(junk, 'not an image');
    const refused = await rampart('image', 'upload', junk);
    expect(refused).toMatchObject({ code: 1, stdout: '' });
    expect(refused.stderr).toMatch(/^error: .*not a Rampart image.*\(HTTP 400\)\n$/);

    const created = await rampart('deployment', 'create', 'Thermo/Field Test', 'os@2.0.0', '--waves', '10,100', '-o', 'json');
    expect(created.stderr).toBe('');
    const deployment = JSON.parse(created.stdout) as { id: string; state: string };
    expect(deployment.state).toBe('active');
    // An empty group: the rollout completes on its next tick, and --watch exits 0.
    const watched = await rampart('deployment', 'status', deployment.id.slice(0, 6), '--watch', '--interval', '200ms');
    expect(watched.stdout).toMatch(/deployment [0-9a-f-]{36} completed\n$/);
    expect(watched.code).toBe(0);
    expect((await rampart('deployment', 'list', 'Thermo/Field Test')).stdout).toMatch(/^[0-9a-f]{8}\s+Thermo\/Field Test\s+completed\s+/m);

    // A member that never answers keeps the next rollout open until it is aborted by hand.
    const silent = 'c0ffee'.padEnd(64, '0');
    expect(await rampart('device', 'claim', silent)).toMatchObject({ code: 0, stderr: '' });
    const assigned = await rampart('device-group', 'assign', 'Thermo/Field Test', 'c0ff');
    expect(assigned).toMatchObject({ code: 0, stderr: '' });
    expect(assigned.stdout).toBe('device c0ffee00 assigned to Thermo/Field Test\n');
    const devices = await rampart('device', 'list');
    expect(devices.stdout).toMatch(
      /^ID\s+STATUS\s+GROUP\s+LAST SEEN\s+LAST ATTESTED\nc0ffee00\s+unattested\s+Thermo\/Field Test\s+-\s+-$/m,
    );
    expect((await rampart('device', 'show', 'c0ffee', '-o', 'wide')).stdout).toContain(silent);
    const second = JSON.parse(
      (await rampart('deployment', 'create', 'Field Test', 'os@2.0.0', '--product', 'Thermo', '-o', 'json')).stdout,
    ) as { id: string };
    expect(await rampart('deployment', 'abort', second.id.slice(0, 8), '--reason', 'changed my mind')).toMatchObject({
      code: 0,
      stderr: '',
    });
    const status = await rampart('deployment', 'status', second.id.slice(0, 5));
    expect(status.stdout).toMatch(
      /^ID\s+GROUP\s+STATE\s+WAVE\s+INSTALLED\/FAILED\/PENDING\s+AGE\n[0-9a-f]{8}\s+Thermo\/Field Test\s+aborted\s+1\/1\s+0\/0\/1\s+\d+s ago\n\n/,
    );
    expect(status.stdout).toMatch(/^DEVICE\s+WAVE\s+STATE\s+ATTEMPTS\s+DETAIL\s+UPDATED\nc0ffee00\s+1\s+\S+/m);
    expect((await rampart('device', 'claim', '../x')).stderr).toMatch(/expected a device id, 64 hex characters, got "\.\.\/x"/);
    const aborted = await rampart('deployment', 'status', second.id, '--watch', '--interval', '200ms');
    expect(aborted.code).toBe(1);
    expect(aborted.stdout).toMatch(/aborted: changed my mind\n$/);

    const escape = await rampart('deployment', 'status', '../images');
    expect(escape).toMatchObject({ code: 1, stdout: '' });
    expect(escape.stderr).toMatch(/^error: no deployment matches "\.\.\/images" \(searched 2 deployments by id or id prefix/);
    expect((await rampart('deployment', 'status', 'zz')).stderr).toMatch(/no deployment matches "zz"/);
  });

  it("gives the platform's online TUF keys for the ceremony, and relays an import's refusal (this install keeps its root keys itself)", async () => {
    const out = join(dir, 'online-keys.json');
    expect(await rampart('tuf', 'online-keys', '--out', out)).toMatchObject({ code: 0, stdout: '' });
    const { parseOnlineGrants } = await import('@rampart/trust');
    const online = parseOnlineGrants(JSON.parse(await readFile(out, 'utf8')), out);
    expect(Object.keys(online.roles).sort()).toEqual(['director', 'snapshot', 'targets', 'timestamp']);
    expect(await rampart('tuf', 'online-keys', '--out', out)).toMatchObject({ code: 1, stderr: expect.stringMatching(/exists/) });
    // The embedded platform runs KEYS_PROVIDER=software: its root keys are online, so no offline root is taken.
    const root = join(dir, '1.root.json');
    await writeFile(root, JSON.stringify({ signed: { _type: 'root', version: 1 }, signatures: [{ keyid: 'a', sig: 'b' }] }));
    const refused = await rampart('tuf', 'root', 'import', root);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/root refused \(root-keys-online\).*KEYS_PROVIDER=pkcs11/);
  });
});
