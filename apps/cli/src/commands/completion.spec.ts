import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { program } from '../main.js';
import { completionScript } from './completion.js';

/** What bash completes for `rampart <words…>` (the last word being typed), with the generated script sourced. */
function complete(...words: string[]): string[] {
  const line = ['rampart', ...words];
  const script = `${completionScript(program, 'bash')}
COMP_WORDS=(${line.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${line.length - 1}
_rampart_complete
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const result = spawnSync('bash', ['--norc', '-c', script], { encoding: 'utf8' });
  expect(result.stderr).toBe('');
  return result.stdout.split('\n').filter((w) => w !== '');
}

describe(completionScript.name, () => {
  it('completes commands, subcommands, options and choices from the command tree', () => {
    expect(complete('dep')).toEqual(['deployment']);
    expect(complete('deployment', '')).toEqual(expect.arrayContaining(['create', 'status', 'abort', 'list']));
    expect(complete('deployment', 'status', 'abc', '--w')).toEqual(['--watch']);
    expect(complete('image', 'list', '--status', '')).toEqual(['uploaded', 'released', 'revoked']);
    expect(complete('device', 'list', '-o', 'y')).toEqual(['yaml']);
    expect(complete('--context', 'prod', 'device-group', 'update', 'g', '--policy', 'n')).toEqual(['no-app-updates', 'none']);
    expect(complete('device', 'list', '--con')).toEqual(['--context']);
  });

  it('loads in zsh through bashcompinit', () => {
    expect(completionScript(program, 'zsh')).toMatch(/^autoload -U \+X bashcompinit && bashcompinit\n/);
  });
});
