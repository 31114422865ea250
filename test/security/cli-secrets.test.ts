import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { program as rampartProgram } from '@rampart/cli/main';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Secrets a user may have in the environment while running the CLI. */
const SECRETS: Readonly<Record<string, string>> = {
  RAMPART_TOKEN: 'rmp_cli-secret-token-that-must-never-be-echoed',
  TENANT_TOKEN: 'rmp_tenant-secret-that-must-never-be-echoed',
  PLATFORM_ADMIN_TOKEN: 'platform-secret-that-must-never-be-echoed',
};

type Command = typeof rampartProgram;

function everyCommand(root: Command, path: string[] = []): Array<{ path: string[]; command: Command }> {
  return [{ path, command: root }, ...root.commands.flatMap((c) => everyCommand(c, [...path, c.name()]))];
}

describe('rampart CLI and secrets', () => {
  const saved: Record<string, string | undefined> = {};
  let program: Command;

  beforeAll(async () => {
    // The command tree reads the environment as it is built: set the secrets first.
    for (const [name, value] of Object.entries(SECRETS)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
    ({ program } = await import('@rampart/cli/main'));
  });

  afterAll(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('never prints a token from the environment: --help and usage errors of every command', async () => {
    let printed = '';
    const commands = everyCommand(program);
    for (const { command } of commands) {
      command.exitOverride();
      command.configureOutput({ writeOut: (text) => (printed += text), writeErr: (text) => (printed += text) });
    }
    // The walk found the command tree, with the token commands.
    expect(commands.length).toBeGreaterThan(30);
    expect(commands.map((c) => c.path.join(' '))).toEqual(
      expect.arrayContaining(['tenant token list', 'tenant token revoke', 'login', 'logout', 'context list', 'context use', 'completion']),
    );
    for (const { path, command } of commands) {
      printed = command.helpInformation();
      for (const secret of Object.values(SECRETS)) expect(printed, `rampart ${path.join(' ')} --help`).not.toContain(secret);
      printed = '';
      await expect(program.parseAsync([...path, '--no-such-option'], { from: 'user' }), path.join(' ')).rejects.toThrow();
      expect(printed, `rampart ${path.join(' ')} --no-such-option`).toMatch(/^error: /m);
      for (const secret of Object.values(SECRETS)) expect(printed, `rampart ${path.join(' ')} --no-such-option`).not.toContain(secret);
    }
  });

  it('never prints a token: login, context list in every format, context use, logout, completion', async () => {
    const home = await mkdtemp(join(tmpdir(), 'rampart-cli-secrets-'));
    // The temp home holds a token-bearing config: removed however the test ends.
    try {
      const saved = { XDG_CONFIG_HOME: process.env['XDG_CONFIG_HOME'], HOME: process.env['HOME'] };
      process.env['XDG_CONFIG_HOME'] = join(home, 'config');
      let printed = '';
      const write = process.stdout.write.bind(process.stdout);
      const writeErr = process.stderr.write.bind(process.stderr);
      process.stdout.write = (chunk: string) => ((printed += chunk), true);
      process.stderr.write = (chunk: string) => ((printed += chunk), true);
      try {
        // A context written as login writes it: the file holds the token; nothing the CLI prints does.
        await mkdir(join(home, 'config', 'rampart'), { recursive: true, mode: 0o700 });
        const config = { contexts: { demo: { api: 'http://127.0.0.1:1', token: SECRETS['RAMPART_TOKEN'] } }, current: 'demo' };
        await writeFile(join(home, 'config', 'rampart', 'config.json'), JSON.stringify(config), { mode: 0o600 });
        for (const args of [
          ['context', 'list'],
          ['context', 'list', '-o', 'json'],
          ['context', 'list', '-o', 'yaml'],
          ['context', 'list', '-o', 'wide'],
          ['context', 'use', 'demo'],
          ['completion', 'bash'],
          ['logout'],
        ])
          await program.parseAsync(args, { from: 'user' });
        // A refused login names the URL, never the token it tried.
        await expect(program.parseAsync(['login', '--api', 'http://127.0.0.1:1'], { from: 'user' })).rejects.toThrow(
          /cannot reach http:\/\/127\.0\.0\.1:1/,
        );
      } finally {
        process.stdout.write = write;
        process.stderr.write = writeErr;
        for (const [name, value] of Object.entries(saved))
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
      }
      expect(printed).toMatch(/demo\s+http:\/\/127\.0\.0\.1:1/);
      expect(printed).toContain('Logged out');
      for (const secret of Object.values(SECRETS)) expect(printed).not.toContain(secret);
      expect(JSON.parse(await readFile(join(home, 'config', 'rampart', 'config.json'), 'utf8'))).toEqual({ contexts: {}, current: null });
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
