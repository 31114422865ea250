import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { ImageVerification, SigningKeyFiles } from '@rampart/trust';
import { printReport as print, type ReportFormat as OutputFormat } from '../output/report.js';

/**
 * `rampart keys create`, `rampart image pack` and `rampart image verify`: an
 * operator's own signed images, as `mender-artifact write` or `azsphere
 * image-package pack-application` make them. The packer (`@rampart/trust`) is
 * loaded inside each action, so `rampart --help` does not pay for it.
 */
export function registerImagePacking(program: Command): void {
  registerKeys(program);
  const image = program.commands.find((c) => c.name() === 'image') ?? program.command('image').description('Signed OS and app images');
  registerPack(image);
  registerVerify(image);
}

/** The emulator's board (its `DEMO_HARDWARE`): what the demo fleet's devices are fused for. */
const DEFAULT_HARDWARE = 'rampart-emu-1';

const outputOption = () => new Option('-o, --output <format>', 'text or json').choices(['text', 'json']).default('text');

function securityVersion(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 0xffff) {
    throw new InvalidArgumentError('a whole number from 0 to 65535 (the anti-rollback counter devices keep per component)');
  }
  return Number(value);
}

function registerKeys(program: Command): void {
  program
    .command('keys')
    .description('Image signing keys')
    .command('create <name>')
    .description(
      'make <name>.key (private, PKCS#8 PEM, mode 0600) and <name>.pub (SPKI PEM) and print the key id; an existing key is never overwritten',
    )
    .option('--dir <dir>', 'where to write them', 'keys')
    .addOption(outputOption())
    .action(async (name: string, o: { dir: string; output: OutputFormat }) => {
      const { createSigningKeyFiles } = await import('@rampart/trust');
      const files = await createSigningKeyFiles(o.dir, name);
      // The key id and the file names only: a private key is never printed.
      print(o.output, files, () => keysText(files));
    });
}

function keysText(files: SigningKeyFiles): string {
  return [
    `private key  ${files.privateKeyFile}  (mode 0600: keep it secret and backed up; it signs your images)`,
    `public key   ${files.publicKeyFile}`,
    `key id       ${files.keyId}  (what a device's fuses hold to trust images signed with this key)`,
  ].join('\n');
}

interface PackFlags {
  component?: string;
  version?: string;
  securityVersion?: number;
  hardware: string;
  key: string;
  payload?: string;
  appDir?: string;
  out: string;
  output: OutputFormat;
}

function registerPack(image: Command): void {
  image
    .command('pack')
    .description('build and sign an image (.rimg) from a payload file or an app directory (manifest.json + main.js)')
    .option('--component <component>', 'os, bootloader, security-monitor or app:<name> (with --app-dir: from its manifest.json)')
    .option('--version <version>', 'the image version, e.g. 1.1.0 (with --app-dir: from its manifest.json)')
    .option('--security-version <n>', 'anti-rollback counter, 0-65535 (with --app-dir: from its manifest.json)', securityVersion)
    .option('--hardware <name>', 'the board the image is built for', DEFAULT_HARDWARE)
    .requiredOption('--key <file>', 'the signing key (PEM private key, as `rampart keys create` makes)')
    .addOption(new Option('--payload <file>', 'the payload: an OS, bootloader, security monitor or app binary').conflicts('appDir'))
    .addOption(new Option('--app-dir <dir>', 'an app directory: manifest.json (component, version, capabilities) and main.js'))
    .requiredOption('--out <file>', 'where to write the image, e.g. os-1.1.0.rimg')
    .addOption(outputOption())
    .action(async (o: PackFlags) => {
      const { keyIdOf, loadImageSigner, measureImage, packImage, writeImageFile } = await import('@rampart/trust');
      const packed = await packImage({
        component: o.component,
        version: o.version,
        securityVersion: o.securityVersion,
        hardware: o.hardware,
        signer: await loadImageSigner(o.key),
        payloadFile: o.payload,
        appDir: o.appDir,
      });
      const written = await writeImageFile(o.out, packed);
      const summary = {
        file: o.out,
        ...written,
        manifest: packed.manifest,
        measurement: measureImage(packed),
        signerKeyId: keyIdOf(packed.signerSpki),
      };
      print(o.output, summary, () =>
        [`${o.out}  ${written.size} bytes`, ...manifestLines(summary.manifest), ...digestLines(summary)].join('\n'),
      );
    });
}

function registerVerify(image: Command): void {
  image
    .command('verify <file>')
    .description("check an image's signature (against --key, or the key it carries) and manifest; exit 1 with the reason if it fails")
    .option('--key <file>', 'the public key it must be signed with (.pub; a .key is read for its public half)')
    .option('--measurement <sha256>', 'the known-good measurement it must have')
    .addOption(outputOption())
    .action(async (file: string, o: { key?: string; measurement?: string; output: OutputFormat }) => {
      const { readPublicKeyFile, verifyImage } = await import('@rampart/trust');
      const result = verifyImage(await readFile(file), {
        publicKeySpki: o.key === undefined ? undefined : await readPublicKeyFile(o.key),
        measurement: o.measurement,
      });
      if (result.verified || o.output === 'json') print(o.output, result, () => verificationText(file, result, o.key));
      if (!result.verified) {
        // The reason on stderr, so a script reading the JSON on stdout still sees why.
        process.stderr.write(
          o.output === 'json'
            ? `rampart: ${file} does not verify: ${result.problems.join('; ')}\n`
            : `${verificationText(file, result, o.key)}\n`,
        );
        process.exitCode = 1;
      }
    });
}

function verificationText(file: string, result: ImageVerification, key: string | undefined): string {
  const verdict = result.verified
    ? `${file}: verified${key === undefined ? ' with the key it carries (pass --key to check who signed it)' : ` with ${key}`}`
    : `${file}: does NOT verify\n${result.problems.map((p) => `  - ${p}`).join('\n')}`;
  if (result.image === undefined) return verdict;
  const { image } = result;
  return [
    verdict,
    ...manifestLines(image.manifest),
    ...digestLines(image),
    `  size              ${image.size} bytes (payload ${image.payloadBytes})`,
  ].join('\n');
}

function manifestLines(manifest: NonNullable<ImageVerification['image']>['manifest']): string[] {
  return [
    `  component         ${manifest.component}`,
    `  version           ${manifest.version}`,
    `  security version  ${manifest.securityVersion}`,
    `  hardware          ${manifest.hardware}`,
    ...(manifest.capabilities === undefined ? [] : [`  capabilities      ${JSON.stringify(manifest.capabilities)}`]),
  ];
}

function digestLines(image: { signerKeyId: string; measurement: string; sha256: string }): string[] {
  return [`  signer key id     ${image.signerKeyId}`, `  measurement       ${image.measurement}`, `  sha256            ${image.sha256}`];
}
