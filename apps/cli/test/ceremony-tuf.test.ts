import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MetadataFile,
  OfflineRootError,
  TufSigningKey,
  metadataBytes,
  parseRootMetadata,
  signRoot,
  verifyRootRotation,
} from '@rampart/trust';
import { Command, CommanderError } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerCeremonyTuf } from '../src/commands/ceremony-tuf.js';

const PASSPHRASE = 'a passphrase for the ceremony';
const DAY_MS = 86_400_000;

/** The command tree as `rampart` will hold it: `ceremony` with the TUF commands under it. */
function ceremonyProgram(): Command {
  const program = new Command('rampart');
  registerCeremonyTuf(program.command('ceremony'));
  const all = (command: Command): Command[] => [command, ...command.commands.flatMap(all)];
  for (const command of all(program)) command.exitOverride().configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  return program;
}

describe('rampart ceremony tuf-key / tuf-root', () => {
  let dir: string;
  let stdout: string[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-ceremony-tuf-'));
    await writeFile(join(dir, 'passphrase'), `${PASSPHRASE}\n`);
  });

  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  afterEach(() => vi.restoreAllMocks());

  /** `rampart ceremony …args`, in `dir`; what it printed as JSON. */
  async function rampart(...args: string[]): Promise<Record<string, unknown>> {
    stdout = [];
    const capture = (chunk: string | Uint8Array): boolean => {
      stdout.push(chunk.toString());
      return true;
    };
    vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    try {
      await ceremonyProgram().parseAsync(['ceremony', ...args, '-o', 'json'], { from: 'user' });
    } finally {
      vi.restoreAllMocks();
    }
    return JSON.parse(stdout.join('')) as Record<string, unknown>;
  }

  const at = (name: string) => join(dir, name);

  it('makes three holder keys, a root signed 2 of 3 on separate machines and merged, that rotates from the online root', async () => {
    // The platform's current root (version 1, one online root key), as its 1.root.json serves it.
    const platformRoot = TufSigningKey.generate();
    const online = Object.fromEntries(['targets', 'snapshot', 'timestamp', 'director'].map((r) => [r, TufSigningKey.generate()]));
    const root1 = metadataBytes(
      await signRoot(
        1,
        new Date(Date.now() + 365 * DAY_MS),
        {
          root: { keys: [platformRoot.key], threshold: 1 },
          targets: [online['targets']!.key],
          snapshot: [online['snapshot']!.key],
          timestamp: [online['timestamp']!.key],
          director: [online['director']!.key],
        },
        [platformRoot],
      ),
    );
    await writeFile(at(MetadataFile.root(1)), root1);
    // Its old root key, as an offline key file, so the old root's signature is made the same way (the import does this online).
    await writeFile(at('platform.key'), platformRoot.exportEncryptedPrivatePem(PASSPHRASE), { mode: 0o600 });

    const keyIds: string[] = [];
    for (const holder of ['k1', 'k2', 'k3']) {
      const made = await rampart('tuf-key', 'create', '--out', at(holder), '--passphrase-file', at('passphrase'));
      expect(made).toMatchObject({ privateKeyFile: at(holder), publicKeyFile: at(`${holder}.pub`) });
      keyIds.push(made['keyId'] as string);
    }

    const keys = ['k1', 'k2', 'k3'].map((k) => at(`${k}.pub`)).join(',');
    const made = await rampart(
      'tuf-root',
      'make',
      '--keys',
      keys,
      '--threshold',
      '2',
      '--online-keys',
      at(MetadataFile.root(1)),
      '--version',
      '2',
      '--out',
      at('root.unsigned.json'),
    );
    expect(made).toMatchObject({ version: 2, roles: { root: { keyids: keyIds, threshold: 2 } }, signatures: [] });

    const signed1 = await rampart('tuf-root', 'sign', '--key', at('k1'), '--passphrase-file', at('passphrase'), at('root.unsigned.json'));
    expect(signed1).toMatchObject({ file: at(`root.signed-by-${keyIds[0]!.slice(0, 8)}.json`), signatures: [keyIds[0]] });
    await rampart(
      'tuf-root',
      'sign',
      '--key',
      at('k3'),
      '--passphrase-file',
      at('passphrase'),
      '--out',
      at('k3.json'),
      at('root.unsigned.json'),
    );
    const previous = ['--previous', at(MetadataFile.root(1))];
    await rampart(
      'tuf-root',
      'sign',
      '--key',
      at('platform.key'),
      '--passphrase-file',
      at('passphrase'),
      ...previous,
      '--out',
      at('platform.json'),
      at('root.unsigned.json'),
    );

    const merged = await rampart(
      'tuf-root',
      'merge',
      signed1['file'] as string,
      at('k3.json'),
      at('platform.json'),
      ...previous,
      '--out',
      at('2.root.json'),
    );
    expect(merged).toMatchObject({ version: 2, checked: 'its own threshold and the rotation from version 1' });
    expect(new Set(merged['signatures'] as string[])).toEqual(new Set([keyIds[0], keyIds[2], platformRoot.keyId]));
    const root2 = parseRootMetadata(await readFile(at('2.root.json'), 'utf8'));
    expect(() => verifyRootRotation(parseRootMetadata(root1.toString()), root2)).not.toThrow();

    // One holder's signature and the old root's: the root's own threshold (2) is not met.
    await expect(
      rampart('tuf-root', 'merge', at('k3.json'), at('platform.json'), ...previous, '--out', at('one-of-three.json')),
    ).rejects.toMatchObject({ name: OfflineRootError.name, reason: 'too-few-signatures' });
    // A wrong passphrase is named, and a key file is never overwritten.
    await writeFile(at('wrong'), 'not the passphrase at all\n');
    await expect(
      rampart('tuf-root', 'sign', '--key', at('k2'), '--passphrase-file', at('wrong'), at('root.unsigned.json')),
    ).rejects.toThrow(/wrong passphrase/);
    await expect(rampart('tuf-key', 'create', '--out', at('k1'), '--passphrase-file', at('passphrase'))).rejects.toThrow(
      /never overwritten/,
    );
  });

  it('refuses a threshold that is not a whole number as a usage error', async () => {
    const error = await rampart(
      'tuf-root',
      'make',
      '--keys',
      'a.pub',
      '--threshold',
      'two',
      '--online-keys',
      'x',
      '--version',
      '2',
      '--out',
      'y',
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommanderError);
  });
});
