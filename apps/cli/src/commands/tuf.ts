import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { print, type View } from '../output/format.js';
import { outputOption } from '../options.js';
import { withSession } from '../session.js';

/** A root as the platform answers an import with it: its version, expiry, who holds each role, who signed. */
interface RootSummaryRow {
  readonly version: number;
  readonly expires: string;
  readonly roles: Readonly<Record<string, { readonly keyids: readonly string[]; readonly threshold: number }>>;
  readonly signatures: readonly string[];
}

const rootView: View<RootSummaryRow> = {
  columns: [
    { header: 'VERSION', value: (r) => String(r.version) },
    { header: 'EXPIRES', value: (r) => r.expires },
    {
      header: 'ROOT KEYS',
      value: (r) => `${r.roles['root']?.threshold ?? '?'} of ${(r.roles['root']?.keyids ?? []).map((id) => id.slice(0, 12)).join(', ')}`,
    },
    { header: 'SIGNED BY', value: (r) => r.signatures.map((id) => id.slice(0, 12)).join(', ') },
  ],
  empty: 'no root',
};

/**
 * `rampart tuf online-keys` and `rampart tuf root import`: the platform's
 * side of an offline TUF root. The online keys go to the ceremony
 * (`rampart ceremony tuf-root make --online-keys`); the root the holders
 * signed comes back to the platform, which checks it before serving it.
 */
export function registerTuf(program: Command): void {
  const tuf = program.command('tuf').description("Your tenant's TUF update repository: its root is signed offline, k of n");
  tuf
    .command('online-keys')
    .description("the platform's online role keys (public), for `rampart ceremony tuf-root make --online-keys`")
    .option('--out <file>', 'write them to this file (never overwritten) instead of printing them')
    .action(
      withSession(async (s, o: { out?: string }) => {
        const keys = await s.get<unknown>('/v1/tuf/online-keys');
        const text = `${JSON.stringify(keys, null, 2)}\n`;
        if (o.out === undefined) {
          process.stdout.write(text);
          return;
        }
        try {
          await writeFile(o.out, text, { flag: 'wx' });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EEXIST')
            throw new Error(`${o.out} exists; choose another --out`, { cause: error });
          throw error;
        }
        process.stderr.write(`online keys written to ${o.out}\n`);
      }),
    );
  tuf
    .command('root')
    .description('Offline-signed roots')
    .command('import <file>')
    .description(
      'import N.root.json from `rampart ceremony tuf-root merge`; the platform refuses it unless its thresholds, version and online keys hold',
    )
    .addOption(outputOption())
    .action(
      withSession(async (s, file: string) => {
        let root: unknown;
        try {
          root = JSON.parse(await readFile(file, 'utf8'));
        } catch (error) {
          throw new Error(`${file} is not a root file (${(error as Error).message})`, { cause: error });
        }
        await print(s.output, await s.send<RootSummaryRow>('POST', '/v1/tuf/root', root), rootView);
      }),
    );
}
