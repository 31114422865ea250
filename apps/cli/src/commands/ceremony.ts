import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import type { KeyProvider, RootAccess } from '@rampart/trust';
import { positiveInt } from '../options.js';
import { printReport as print, type ReportFormat } from '../output/report.js';

/**
 * `rampart ceremony`: the platform's offline root and the ceremonies that use
 * it. `root create`, `issuing sign` and `root crl` run on the offline machine
 * (the root's key in an encrypted file or an offline token, never on a
 * running service); `issuing-csr` runs on the platform's side, where the
 * issuing CA's key is in the online token, and its request is carried to the
 * offline machine and the certificate carried back. `@rampart/trust` is loaded
 * inside each action, so `rampart --help` does not pay for it.
 *
 * Returns the `ceremony` command, so other ceremonies (the TUF root) add
 * their subcommands to it.
 */
export function registerCeremony(program: Command): Command {
  const ceremony = program
    .command('ceremony')
    .description('Offline ceremonies: the platform CA root (create, sign the issuing CA, CRL) and TUF roots signed k-of-n');
  const root = ceremony.command('root').description("The offline root's certificate, key and CRL");
  registerRootCreate(root);
  registerRootCrl(root);
  registerIssuingCsr(ceremony);
  registerIssuingSign(ceremony.command('issuing').description('The platform issuing CA, signed by the offline root'));
  return ceremony;
}

const outputOption = () => new Option('-o, --output <format>', 'text or json').choices(['text', 'json']).default('text');
const passphraseFileOption = () =>
  new Option(
    '--passphrase-file <file>',
    "the root key file's passphrase (its first line, at least 12 characters), for a root kept in a file",
  );
const pinFileOption = () => new Option('--pin-file <file>', "the token's user PIN, for a root kept in a token").conflicts('passphraseFile');

/** The token options, shared by `root create` (the offline token) and `issuing-csr` (the platform's token). */
function tokenOptions(command: Command, keyLabelDefault: string, keyLabelHelp: string): Command {
  return command
    .addOption(new Option('--pkcs11-module <path>', 'the PKCS#11 module (absolute path), e.g. /usr/lib/softhsm/libsofthsm2.so'))
    .addOption(new Option('--token-label <label>', "the token's label"))
    .addOption(new Option('--pin-file <file>', "a file holding the token's user PIN"))
    .addOption(new Option('--key-label <label>', keyLabelHelp).default(keyLabelDefault));
}

interface TokenFlags {
  pkcs11Module?: string;
  tokenLabel?: string;
  pinFile?: string;
  keyLabel: string;
}

/** The token named by the flags, or undefined when none of them is given; all three or none, checked here. */
function tokenOf(flags: TokenFlags, command: Command): { modulePath: string; tokenLabel: string; pinFile: string } | undefined {
  const { pkcs11Module, tokenLabel, pinFile } = flags;
  if (pkcs11Module === undefined && tokenLabel === undefined && pinFile === undefined) return undefined;
  if (pkcs11Module === undefined || tokenLabel === undefined || pinFile === undefined) {
    command.error('error: a token is named by --pkcs11-module, --token-label and --pin-file together');
  }
  // The provider takes absolute paths (a service's config); a person types relative ones.
  return { modulePath: pkcs11Module, tokenLabel, pinFile: resolve(pinFile) };
}

/** How a command that signs with the root opens it: exactly one of --passphrase-file and --pin-file. */
function rootAccessOf(flags: { passphraseFile?: string; pinFile?: string }, command: Command): RootAccess {
  if (flags.passphraseFile !== undefined) return { passphraseFile: flags.passphraseFile };
  if (flags.pinFile !== undefined) return { pinFile: resolve(flags.pinFile) };
  return command.error('error: open the root with --passphrase-file (a root in a file) or --pin-file (a root in a token)');
}

interface RootCreateFlags extends TokenFlags {
  out: string;
  commonName: string;
  validityDays?: number;
  passphraseFile?: string;
  output: ReportFormat;
}

function registerRootCreate(root: Command): void {
  const create = root
    .command('create')
    .description(
      'make the offline root (P-256, pathLen 2) in --out: root.pem, and the key encrypted under --passphrase-file (root.key.pem, 0600) or made in a token',
    )
    .requiredOption('--out <dir>', 'the root directory (on the offline media); refused if it holds a root already')
    .requiredOption('--common-name <name>', "the root's subject CN, e.g. 'Example Corp Rampart Root 2026'")
    .option('--validity-days <days>', 'how long the root is valid (default 7300: twenty years)', positiveInt)
    .addOption(passphraseFileOption().conflicts(['pkcs11Module', 'tokenLabel', 'pinFile']));
  tokenOptions(create, 'rampart/platform/offline-root', "the root key's label in the token").addOption(outputOption());
  create.action(async (o: RootCreateFlags, command: Command) => {
    const token = tokenOf(o, command);
    if (token === undefined && o.passphraseFile === undefined) {
      command.error('error: keep the root key in a file (--passphrase-file) or in a token (--pkcs11-module, --token-label, --pin-file)');
    }
    const trust = await import('@rampart/trust');
    if (token === undefined) {
      const passphrase = await trust.readPassphraseFile(o.passphraseFile!);
      const created = await trust.createOfflineRoot({
        commonName: o.commonName,
        validityDays: o.validityDays,
        keys: { kind: 'encrypted-file', passphrase },
      });
      await trust.writeRootDirectory(o.out, created);
      report(o.output, created.certificatePem, { directory: o.out, key: join(o.out, trust.ROOT_FILES.encryptedKey) });
      return;
    }
    const provider = trust.Pkcs11KeyProvider.open(token);
    try {
      const created = await trust.createOfflineRoot({
        commonName: o.commonName,
        validityDays: o.validityDays,
        keys: { kind: 'provider', provider, label: o.keyLabel },
      });
      await trust.writeRootDirectory(o.out, created, { modulePath: token.modulePath, tokenLabel: token.tokenLabel, keyLabel: o.keyLabel });
      report(o.output, created.certificatePem, { directory: o.out, key: `token ${JSON.stringify(token.tokenLabel)}, key ${o.keyLabel}` });
    } finally {
      await provider.close();
    }
  });
}

interface RootCrlFlags {
  root: string;
  out: string;
  revoke: string[];
  nextUpdateDays: number;
  passphraseFile?: string;
  pinFile?: string;
  output: ReportFormat;
}

/** Thirty days: the offline ceremony that re-signs the root's CRL comes back monthly. */
const DEFAULT_ROOT_CRL_DAYS = 30;

function registerRootCrl(root: Command): void {
  root
    .command('crl')
    .description("sign the root's CRL: every certificate it revoked (kept in the root directory), plus --revoke SERIAL ...")
    .requiredOption('--root <dir>', 'the root directory')
    .requiredOption('--out <file>', 'where to write the CRL (PEM), for the platform to publish at its CRL URL')
    .option('--revoke <serial...>', 'revoke these certificates this root issued (hex serials, as `openssl x509 -serial` prints them)', [])
    .option('--next-update-days <days>', 'days until the next CRL is due', positiveInt, DEFAULT_ROOT_CRL_DAYS)
    .addOption(passphraseFileOption())
    .addOption(pinFileOption())
    .addOption(outputOption())
    .action(async (o: RootCrlFlags, command: Command) => {
      const access = rootAccessOf(o, command);
      const trust = await import('@rampart/trust');
      const opened = await trust.openRootDirectory(o.root, access);
      try {
        const now = new Date();
        const revoked = await trust.revocationsWith(o.root, o.revoke, now);
        const crlPem = await trust.rootCrl({ root: opened.root, revoked, nextUpdateDays: o.nextUpdateDays, now });
        // Recorded once signed: a root that could not sign leaves the record as it was.
        await trust.writeRevocations(o.root, revoked);
        await writeFile(o.out, crlPem);
        const summary = { file: o.out, revoked: revoked.map((r) => ({ serial: r.serial, revokedAt: r.revokedAt.toISOString() })) };
        print(o.output, summary, () =>
          [
            `${o.out}  the root's CRL, next update in ${o.nextUpdateDays} days`,
            ...(revoked.length === 0
              ? ['  revokes nothing']
              : revoked.map((r) => `  revoked ${r.serial}  since ${r.revokedAt.toISOString()}`)),
          ].join('\n'),
        );
      } finally {
        await opened.close();
      }
    });
}

interface IssuingCsrFlags extends TokenFlags {
  out: string;
  subject: string;
  algorithm: 'ecdsa-p256' | 'ed25519';
  keyDir?: string;
  kekFile?: string;
  output: ReportFormat;
}

function registerIssuingCsr(ceremony: Command): void {
  const csr = ceremony
    .command('issuing-csr')
    .description(
      "ONLINE side: a signing request for the platform issuing CA, whose key is (or is made) in the platform's token or software key store",
    )
    .requiredOption('--out <file>', 'where to write the request (PEM), to carry to the offline machine')
    .option('--subject <dn>', "the issuing CA's subject", 'CN=Rampart Platform Issuing CA')
    .addOption(
      new Option('--algorithm <name>', 'the key to make when there is none').choices(['ecdsa-p256', 'ed25519']).default('ecdsa-p256'),
    )
    .addOption(new Option('--key-dir <dir>', 'a software key store (sealed key files), for development').conflicts('pkcs11Module'))
    .addOption(new Option('--kek-file <file>', "the software key store's key-encryption key: 32 bytes, base64 (as CA_KEY_ENCRYPTION_KEY)"));
  tokenOptions(csr, 'rampart/platform/issuing-ca', "the issuing CA key's label").addOption(outputOption());
  csr.action(async (o: IssuingCsrFlags, command: Command) => {
    const token = tokenOf(o, command);
    if (token === undefined && (o.keyDir === undefined || o.kekFile === undefined)) {
      command.error('error: name where the key is: a token (--pkcs11-module, --token-label, --pin-file) or --key-dir with --kek-file');
    }
    const trust = await import('@rampart/trust');
    const provider: KeyProvider =
      token !== undefined
        ? trust.Pkcs11KeyProvider.open(token)
        : new trust.SoftwareKeyProvider(
            new trust.KeyVault(Buffer.from((await readFile(o.kekFile!, 'utf8')).trim(), 'base64')),
            new trust.DirectorySealedKeyStore(o.keyDir!),
          );
    try {
      const made = await trust.createIssuingCsr(provider, o.keyLabel, o.subject, o.algorithm);
      await writeNew(o.out, made.csrPem);
      const summary = {
        file: o.out,
        keyLabel: made.key.label,
        algorithm: made.key.algorithm,
        generated: made.generated,
        store: provider.kind,
      };
      print(o.output, summary, () =>
        [
          `${o.out}  signing request for ${o.subject}`,
          `  key  ${made.key.label} (${made.key.algorithm}, ${made.generated ? 'made now' : 'already there'}, ${provider.kind})`,
          '  next: carry it to the offline machine and run `rampart ceremony issuing sign`',
        ].join('\n'),
      );
    } finally {
      await provider.close();
    }
  });
}

interface IssuingSignFlags {
  root: string;
  csr: string;
  out: string;
  validityDays?: number;
  crlUrl?: string;
  passphraseFile?: string;
  pinFile?: string;
  output: ReportFormat;
}

function registerIssuingSign(issuing: Command): void {
  issuing
    .command('sign')
    .description(
      'OFFLINE side: check the request (signature, P-256/Ed25519 key, nothing asked beyond an issuing CA) and sign it: pathLen 1, under the root',
    )
    .requiredOption('--root <dir>', 'the root directory')
    .requiredOption('--csr <file>', 'the request `rampart ceremony issuing-csr` wrote')
    .requiredOption('--out <file>', 'where to write the issuing CA certificate (PEM), to carry back to the platform')
    .option('--validity-days <days>', 'how long the issuing CA is valid (default 1825: five years)', positiveInt)
    .option('--crl-url <url>', "where the platform publishes the root's CRL (the certificate's CRL distribution point)")
    .addOption(passphraseFileOption())
    .addOption(pinFileOption())
    .addOption(outputOption())
    .action(async (o: IssuingSignFlags, command: Command) => {
      const access = rootAccessOf(o, command);
      const trust = await import('@rampart/trust');
      const csrPem = await readFile(o.csr, 'utf8');
      // Checked before the root is opened: a refused request costs no PIN try and no passphrase.
      trust.checkIssuingCsr(csrPem);
      const opened = await trust.openRootDirectory(o.root, access);
      try {
        const certificatePem = await trust.signIssuingCa({
          root: opened.root,
          csrPem,
          validityDays: o.validityDays,
          crlDistributionPoint: o.crlUrl,
        });
        await writeNew(o.out, certificatePem);
        await trust.recordIssued(o.root, certificatePem);
        report(o.output, certificatePem, { file: o.out, signedBy: join(o.root, trust.ROOT_FILES.certificate) });
      } finally {
        await opened.close();
      }
    });
}

/** What a person compares across machines: the subject, serial and SHA-256 fingerprint of what was made. */
function report(format: ReportFormat, certificatePem: string, where: Record<string, string>): void {
  const certificate = new X509Certificate(certificatePem);
  const summary = {
    ...where,
    subject: certificate.subject,
    serial: certificate.serialNumber.toLowerCase(),
    sha256: certificate.fingerprint256,
    validTo: new Date(certificate.validTo).toISOString(),
  };
  print(format, summary, () =>
    [
      ...Object.entries(where).map(([k, v]) => `${k.padEnd(9)} ${v}`),
      `subject   ${summary.subject}`,
      `serial    ${summary.serial}`,
      `sha256    ${summary.sha256}`,
      `valid to  ${summary.validTo}`,
    ].join('\n'),
  );
}

/** A ceremony's output is never written over an earlier one: a certificate or request in hand may be the only copy. */
async function writeNew(file: string, text: string): Promise<void> {
  try {
    await writeFile(file, text, { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      throw new Error(`${file} exists already; choose another --out`, { cause: error });
    throw error;
  }
}
