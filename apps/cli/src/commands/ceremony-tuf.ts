import { readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { OfflineKeyFiles, RootMetadata, RootSummary } from '@rampart/trust';
import { printReport as print, type ReportFormat as OutputFormat } from '../output/report.js';

/**
 * `rampart ceremony tuf-key …` and `rampart ceremony tuf-root …`: a
 * tenant's TUF root made and signed on offline machines, k of n holders
 * each signing on their own (TUF's guidance: the root key is offline and
 * threshold-signed). Make the unsigned root, pass its file to each holder,
 * merge the signed copies into the `N.root.json` the platform imports.
 * `@rampart/trust` is loaded inside each action, so `rampart --help` does
 * not pay for it.
 */
export function registerCeremonyTuf(ceremony: Command): void {
  registerKeyCreate(ceremony.command('tuf-key').description('Offline TUF root keys (Ed25519, encrypted PKCS#8)'));
  const root = ceremony.command('tuf-root').description('A TUF root signed k-of-n by offline keys');
  registerMake(root);
  registerSign(root);
  registerMerge(root);
}

const DAY_MS = 86_400_000;
/** Longer than this, a lost or stolen key stays trusted too long: the holders should meet again. */
const MAX_ROOT_DAYS = 5 * 365;

const outputOption = () => new Option('-o, --output <format>', 'text or json').choices(['text', 'json']).default('text');

function wholeNumber(min: number, max: number, what: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d{1,9}$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`${what}: a whole number from ${min} to ${max}`);
    return n;
  };
}

async function writeNew(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text, { flag: 'wx' });
  } catch (error) {
    // A ceremony file is a record of what was signed: never replaced in place.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new Error(`${path} exists; choose another --out, or move it away`, { cause: error });
    }
    throw error;
  }
}

async function readRoot(path: string): Promise<RootMetadata> {
  const { parseRootMetadata } = await import('@rampart/trust');
  return parseRootMetadata(await readFile(path, 'utf8'), path);
}

function registerKeyCreate(key: Command): void {
  key
    .command('create')
    .description('make an offline root key: --out (encrypted PKCS#8 PEM, mode 0600) and --out.pub; an existing file is never overwritten')
    .requiredOption('--out <file>', 'the private key file, e.g. holder-1.key (its public key goes to <file>.pub)')
    .requiredOption('--passphrase-file <file>', 'a file whose first line is the passphrase (12 characters or more)')
    .addOption(outputOption())
    .action(async (o: { out: string; passphraseFile: string; output: OutputFormat }) => {
      const { createOfflineKeyFiles, readPassphraseFile } = await import('@rampart/trust');
      const files = await createOfflineKeyFiles(o.out, await readPassphraseFile(o.passphraseFile));
      print(o.output, files, () => keyText(files));
    });
}

function keyText(files: OfflineKeyFiles): string {
  return [
    `private key  ${files.privateKeyFile}  (encrypted, mode 0600: keep it and its passphrase apart, offline, backed up)`,
    `public key   ${files.publicKeyFile}  (give it to whoever makes the root: tuf-root make --keys)`,
    `key id       ${files.keyId}`,
  ].join('\n');
}

interface MakeFlags {
  keys: string;
  threshold: number;
  onlineKeys: string;
  version: number;
  expiresDays: number;
  out: string;
  output: OutputFormat;
}

function registerMake(root: Command): void {
  root
    .command('make')
    .description('make an unsigned root: the offline keys with their threshold, and the online roles as the platform gives them')
    .requiredOption('--keys <files>', 'the offline public keys, comma-separated (.pub files from tuf-key create)')
    .requiredOption('--threshold <k>', 'how many of them must sign', wholeNumber(1, 255, '--threshold'))
    .requiredOption('--online-keys <file>', "the online roles' keys: the tenant's current N.root.json, or {keys, roles}")
    .requiredOption('--version <n>', 'the new root version: one above the root devices trust now', wholeNumber(1, 999_999_999, '--version'))
    .option('--expires-days <days>', 'days until the root expires', wholeNumber(1, MAX_ROOT_DAYS, '--expires-days'), 365)
    .requiredOption('--out <file>', 'where to write the unsigned root, e.g. root.unsigned.json')
    .addOption(outputOption())
    .action(async (o: MakeFlags) => {
      const { makeOfflineRoot, parseOnlineGrants, readOfflinePublicKey, ceremonyFileText, summarizeRoot } = await import('@rampart/trust');
      const keyFiles = o.keys.split(',').map((f) => f.trim());
      const onlineText = await readFile(o.onlineKeys, 'utf8');
      let onlineJson: unknown;
      try {
        onlineJson = JSON.parse(onlineText);
      } catch (error) {
        throw new Error(`${o.onlineKeys} is not JSON (${(error as Error).message})`, { cause: error });
      }
      const root = makeOfflineRoot({
        version: o.version,
        expires: new Date(Date.now() + o.expiresDays * DAY_MS),
        rootKeys: await Promise.all(keyFiles.map((f) => readOfflinePublicKey(f))),
        threshold: o.threshold,
        online: parseOnlineGrants(onlineJson, o.onlineKeys),
      });
      await writeNew(o.out, ceremonyFileText(root));
      const summary = summarizeRoot(root);
      print(o.output, { file: o.out, ...summary }, () => [`${o.out}  unsigned`, ...rootLines(summary)].join('\n'));
    });
}

interface SignFlags {
  key: string;
  passphraseFile: string;
  previous?: string;
  out?: string;
  output: OutputFormat;
}

/** `root.unsigned.json` signed by key 1a2b3c4d… → `root.signed-by-1a2b3c4d.json`, beside it. */
function signedCopyName(unsigned: string, keyId: string): string {
  const stem = basename(unsigned).replace(/(\.unsigned)?\.json$/, '');
  return join(dirname(unsigned), `${stem}.signed-by-${keyId.slice(0, 8)}.json`);
}

function registerSign(root: Command): void {
  root
    .command('sign <root>')
    .description("sign a root with one holder's offline key, into a copy carrying that signature (merge the copies afterwards)")
    .requiredOption('--key <file>', 'the offline private key (from tuf-key create)')
    .requiredOption('--passphrase-file <file>', "a file whose first line is the key's passphrase")
    .option('--previous <file>', 'the root devices trust now, when this key is one of its root keys rather than the new root’s')
    .option('--out <file>', 'where to write the signed copy (default: <root>.signed-by-<key id>.json beside it)')
    .addOption(outputOption())
    .action(async (file: string, o: SignFlags) => {
      const { loadOfflineKey, readPassphraseFile, signOfflineRoot, ceremonyFileText, summarizeRoot } = await import('@rampart/trust');
      const unsigned = await readRoot(file);
      const previous = o.previous === undefined ? undefined : await readRoot(o.previous);
      const key = await loadOfflineKey(o.key, await readPassphraseFile(o.passphraseFile));
      const signed = signOfflineRoot(unsigned, key, new Date(), previous);
      const out = o.out ?? signedCopyName(file, key.keyId);
      await writeNew(out, ceremonyFileText(signed));
      const summary = summarizeRoot(signed);
      print(o.output, { file: out, signedBy: key.keyId, ...summary }, () =>
        [`${out}  signed by ${key.keyId}`, ...rootLines(summary)].join('\n'),
      );
    });
}

function registerMerge(root: Command): void {
  root
    .command('merge <copies...>')
    .description("merge holders' signed copies into the root the platform imports; refused unless the root's own threshold signed it")
    .requiredOption('--out <file>', 'where to write it, e.g. 2.root.json')
    .option(
      '--previous <file>',
      'the root devices trust now: also check the rotation (a threshold of its root keys signed, version one above)',
    )
    .addOption(outputOption())
    .action(async (files: string[], o: { out: string; previous?: string; output: OutputFormat }) => {
      const { combineSignatures, metadataBytes, summarizeRoot } = await import('@rampart/trust');
      const copies = await Promise.all(files.map(async (file) => ({ file, metadata: await readRoot(file) })));
      const previous = o.previous === undefined ? undefined : await readRoot(o.previous);
      const merged = combineSignatures(copies, previous);
      // The bytes the platform serves, as every other root it serves.
      await writeNew(o.out, metadataBytes(merged).toString('utf8'));
      const checked =
        previous === undefined ? 'its own threshold' : `its own threshold and the rotation from version ${summarizeRoot(previous).version}`;
      const summary = summarizeRoot(merged);
      print(o.output, { file: o.out, checked, ...summary }, () => [`${o.out}  verified: ${checked}`, ...rootLines(summary)].join('\n'));
    });
}

/** What a holder reads before and after signing: the version, the expiry, and who holds each role. */
function rootLines(summary: RootSummary): string[] {
  return [
    `  version     ${summary.version}`,
    `  expires     ${summary.expires}`,
    ...Object.entries(summary.roles).map(
      ([name, role]) => `  ${name.padEnd(10)}  ${role.threshold} of ${role.keyids.map((id) => id.slice(0, 12)).join(', ')}`,
    ),
    `  signatures  ${summary.signatures.length === 0 ? 'none' : summary.signatures.map((id) => id.slice(0, 12)).join(', ')}`,
  ];
}
