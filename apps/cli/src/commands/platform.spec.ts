import { ApiUnreachableError } from '@rampart/api-client';
import { CommanderError, type Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `rampart up` takes DEVICES, RATE and DURATION as defaults. They once were parsed while the command tree was built,
// so a bad DURATION broke every command; now only `up` reads them, with its options' own parsers.
describe('rampart up environment defaults', () => {
  const names = ['DEVICES', 'RATE', 'DURATION'] as const;
  const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
  let program: Command;
  let printed = '';

  beforeAll(async () => {
    process.env['DURATION'] = '5min';
    process.env['DEVICES'] = 'lots';
    // The tree is built on import: with the bad values already set.
    ({ program } = await import('../main.js'));
    for (const command of [program, ...program.commands])
      command.exitOverride().configureOutput({ writeOut: (t) => (printed += t), writeErr: (t) => (printed += t) });
  });

  afterAll(() => {
    for (const n of names) {
      if (saved[n] === undefined) delete process.env[n];
      else process.env[n] = saved[n];
    }
  });

  it('leave `rampart --help` alone', async () => {
    printed = '';
    await expect(program.parseAsync(['--help'], { from: 'user' })).rejects.toMatchObject({ code: 'commander.helpDisplayed' });
    expect(printed).toContain('Usage: rampart');
  });

  it('leave `rampart device list` alone: it gets as far as calling the API', async () => {
    const args = ['device', 'list', '--api', 'http://127.0.0.1:1', '--token', 'rmp_test'];
    await expect(program.parseAsync(args, { from: 'user' })).rejects.toBeInstanceOf(ApiUnreachableError);
  });

  it('make `rampart up` refuse the bad value, naming the variable', async () => {
    printed = '';
    process.env['DEVICES'] = '5';
    const error = await program.parseAsync(['up'], { from: 'user' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommanderError);
    expect(printed).toMatch(/option '--duration <time>' value '5min' from env 'DURATION' is invalid/);

    printed = '';
    process.env['DURATION'] = '2s';
    process.env['DEVICES'] = 'NaN';
    await expect(program.parseAsync(['up'], { from: 'user' })).rejects.toBeInstanceOf(CommanderError);
    expect(printed).toMatch(/option '--devices <n>' value 'NaN' from env 'DEVICES' is invalid.*positive whole number/);
  });
});
