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
    expect(commands.map((c) => c.path.join(' '))).toEqual(expect.arrayContaining(['tenant token list', 'tenant token revoke']));
    for (const { path, command } of commands) {
      printed = command.helpInformation();
      for (const secret of Object.values(SECRETS)) expect(printed, `rampart ${path.join(' ')} --help`).not.toContain(secret);
      printed = '';
      await expect(program.parseAsync([...path, '--no-such-option'], { from: 'user' }), path.join(' ')).rejects.toThrow();
      expect(printed, `rampart ${path.join(' ')} --no-such-option`).toMatch(/^error: /m);
      for (const secret of Object.values(SECRETS)) expect(printed, `rampart ${path.join(' ')} --no-such-option`).not.toContain(secret);
    }
  });
});
