import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { waitFor } from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTRY, REPO_ROOT, ServiceProcess } from '../support/service-process.js';

/** The README's default API URL, which the test points at the platform it started (on a free port). */
const README_API = '127.0.0.1:8000';

/** A `make` line, with or without variables before it (`ONCE=1 make demo`). */
const MAKE = /^([A-Z_]+=\S*\s+)*make\b/;

interface ReadmeCommand {
  readonly text: string;
  /** What the README promises it exits with: 0 unless a `# exits N` comment says otherwise. */
  readonly exitCode: number;
}

/**
 * The commands of the README's "Using it" section: every `sh` block in order
 * (`text` blocks are samples), continuation lines joined, comments and `make`
 * lines left out — `make demo` is the platform the test starts itself.
 */
function usingItCommands(readme: string): ReadmeCommand[] {
  const start = readme.indexOf('\n## Using it\n');
  if (start < 0) throw new Error('README has no "## Using it" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const commands: ReadmeCommand[] = [];
  for (const block of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const lines = block[1]!.replace(/\\\n\s*/g, '').split('\n');
    for (const line of lines) {
      const text = line.trim();
      if (text === '' || text.startsWith('#') || MAKE.test(text)) continue;
      const promised = /#\s*exits (\d+)\b/.exec(text);
      commands.push({ text, exitCode: promised === null ? 0 : Number(promised[1]) });
    }
  }
  return commands;
}

/** One bash script: each command run in turn (functions and variables carry on), its exit status checked. */
function script(commands: readonly ReadmeCommand[]): string {
  const quoted = (text: string): string => `'${text.replaceAll("'", `'\\''`)}'`;
  return [
    'set -uo pipefail',
    ...commands.flatMap(({ text, exitCode }) => [
      `printf '\\n$ %s\\n' ${quoted(text)}`,
      text,
      `rc=$?; if [ "$rc" -ne ${exitCode} ]; then printf 'README command exited %s, the README says ${exitCode}: %s\\n' "$rc" ${quoted(text)} >&2; exit 97; fi`,
    ]),
  ].join('\n');
}

function runBash(source: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', source], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The README's "Using it" section, run as written against `rampart up
 * --fleet` (what `make demo` runs), by bash, from a folder laid out like the
 * repository's root: the operator's walkthrough (the platform operator logs in
 * and creates a tenant; the demo tenant logs in, makes a product and group,
 * an OS packed, signed, uploaded, released and rolled out in waves to every
 * demo device; a crashing app stopped at its first wave) and every other
 * command of the section.
 */
describe('the README walkthrough', () => {
  let dir: string;
  let platform: ServiceProcess;
  let apiPort: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-readme-'));
    // The repository's root as the README's commands see it: the built CLI and the sample apps.
    await symlink(join(REPO_ROOT, 'apps'), join(dir, 'apps'));
    await symlink(join(REPO_ROOT, 'devices'), join(dir, 'devices'));
    await mkdir(join(dir, 'home'));
    platform = ServiceProcess.start('rampart-up', ENTRY.cli, { LOG_LEVEL: 'warn' }, [
      'up',
      '--fleet',
      '--devices',
      '6',
      '--duration',
      '5s',
      '--data-dir',
      join(dir, '.rampart'),
      '--report',
      join(dir, 'reports', 'demo.json'),
      // Every port free: the README's fixed defaults may be another platform's on this machine.
      ...['--mqtt-port', '--api-port', '--gateway-http-port', '--attestation-port', '--telemetry-port', '--failures-port']
        .concat(['--updates-port', '--updates-device-port'])
        .flatMap((flag) => [flag, '0']),
    ]);
    await waitFor(() => platform.stderr.some((l) => l.startsWith('Serving until Ctrl-C')), {
      timeoutMs: 120_000,
      intervalMs: 250,
      describe: () => `the demo fleet's report and "Serving until Ctrl-C"; stderr: ${platform.stderr.join('\n')}`,
    });
    const banner = platform.stderr.map((l) => /^\s*API\s+http:\/\/127\.0\.0\.1:(\d+)\/v1/.exec(l)).find((m) => m !== null);
    if (banner == null) throw new Error(`no API URL in the banner: ${platform.stderr.join('\n')}`);
    apiPort = Number(banner[1]);
  }, 180_000);

  afterAll(async () => {
    platform?.child.kill('SIGINT');
    await platform?.exited;
    await rm(dir, { recursive: true, force: true });
  });

  it('finds the commands: the walkthrough is in the section', async () => {
    const commands = usingItCommands(await readFile(join(REPO_ROOT, 'README.md'), 'utf8'));
    const texts = commands.map((c) => c.text);
    expect(texts.filter((t) => t.startsWith('rampart login'))).toHaveLength(2);
    expect(texts.some((t) => t.startsWith('rampart tenant create'))).toBe(true);
    expect(texts.some((t) => t.startsWith('rampart image pack'))).toBe(true);
    expect(commands.filter((c) => c.text.startsWith('rampart deployment create')).map((c) => c.exitCode)).toEqual([0, 1]);
    expect(texts.filter((t) => /\bmake\b/.test(t))).toEqual([]);
  });

  it('runs every command of "Using it" as written, each exiting as the README says', async () => {
    const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    const commands = usingItCommands(readme).map((c) => ({ ...c, text: c.text.replaceAll(README_API, `127.0.0.1:${apiPort}`) }));
    const home = join(dir, 'home');
    const run = await runBash(script(commands), dir, {
      PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}`,
      HOME: home,
      XDG_CONFIG_HOME: join(home, '.config'),
    });
    const transcript = `${run.stdout}\n--- stderr\n${run.stderr}`;
    expect(run.code, transcript).toBe(0);
    // What the walkthrough promises, read from what the commands printed.
    expect(run.stdout).toMatch(/Logged in to http:\/\/127\.0\.0\.1:\d+ as the platform operator\. Context "operator"/);
    expect(run.stdout).toMatch(/^acme\s+Acme Corp\s+\S{20,}$/m);
    expect(run.stdout).toMatch(/Logged in to http:\/\/127\.0\.0\.1:\d+ as Administrator of tenant demo\. Context "demo"/);
    expect(run.stdout).toMatch(/6 devices assigned to Thermo\/Field Test/);
    expect(run.stdout).toMatch(/^deployment [0-9a-f-]{36} completed$/m);
    expect(run.stdout).toMatch(/^deployment [0-9a-f-]{36} aborted: /m);
    expect(run.stdout).toMatch(/update-failure in app:sensor 1\.2\.0: health check failed/);
    expect(run.stdout).toMatch(/^1\.2\.0\s+3\s+0\.00 %/m);
    expect(await readFile(join(home, '.config', 'rampart', 'config.json'), 'utf8')).not.toBe('');
  }, 360_000);

  it("names the CRL in the demo's device certificate under the one API URL, where it is served", async () => {
    const extension = spawnSync(
      'openssl',
      ['x509', '-noout', '-ext', 'crlDistributionPoints', '-in', join(dir, 'reports', 'device-certificate.pem')],
      {
        encoding: 'utf8',
      },
    );
    expect(extension.status, extension.stderr).toBe(0);
    const url = /URI:(\S+)/.exec(extension.stdout)?.[1];
    expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${apiPort}/v1/`));
    const response = await fetch(url!);
    expect(response.status).toBe(200);
    const crl = spawnSync('openssl', ['crl', '-inform', 'PEM', '-noout', '-issuer'], { input: Buffer.from(await response.arrayBuffer()) });
    expect(crl.status, String(crl.stderr)).toBe(0);
  });
});
