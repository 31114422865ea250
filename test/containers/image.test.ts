import { execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { containerTierSkipped, docker } from './support/docker.js';

const IMAGE = process.env['IMAGE'] ?? 'rampart:dev';
const ROOT = resolve(import.meta.dirname, '../..');
const exec = promisify(execFile);
/** Debian's SoftHSM2 module, where the image's softhsm2 package puts it. */
const SOFTHSM2_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
/** As the chart runs every Rampart container: the image's user, a read-only root filesystem, no capabilities. */
const AS_THE_CHART_RUNS_IT = [
  '--read-only',
  '--tmpfs',
  '/tmp',
  '--user',
  '1000:1000',
  '--cap-drop',
  'ALL',
  '--security-opt',
  'no-new-privileges',
];

/** The host's rampart CLI (apps/cli/dist): the offline side of the ceremony, which never runs in the platform's image. */
async function hostCli(args: readonly string[]): Promise<string> {
  return (await exec(process.execPath, [join(ROOT, 'apps/cli/dist/main.js'), ...args], { encoding: 'utf8' })).stdout;
}

/** The PEM blocks of a CA bundle, by the body each carries (what a copy of the certificate would contain). */
function pemBodies(bundle: string): string[] {
  return [...bundle.matchAll(/-----BEGIN CERTIFICATE-----\s*([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => m[1]!.replace(/\s+/g, ''));
}

/** Does any file in the image's filesystem contain one of `needles`? Streams `docker export` of a created container. */
async function imageContains(image: string, needles: readonly string[]): Promise<string[]> {
  const container = (await docker(['create', image])).trim();
  try {
    const found = new Set<string>();
    const keep = Math.max(...needles.map((n) => n.length));
    let tail = '';
    const exported = spawn('docker', ['export', container], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exitCode = new Promise<number | null>((resolve) => exported.once('close', resolve));
    let bytes = 0;
    for await (const chunk of exported.stdout) {
      bytes += (chunk as Buffer).length;
      const text = tail + (chunk as Buffer).toString('latin1');
      for (const needle of needles) if (text.includes(needle)) found.add(needle);
      tail = text.slice(-keep);
    }
    // An export that failed or came out short would search nothing.
    if ((await exitCode) !== 0 || bytes < 100_000_000) throw new Error(`docker export of ${image} failed (${bytes} bytes read)`);
    return [...found];
  } finally {
    await docker(['rm', container]);
  }
}

/**
 * The image as built by `make images`: who it runs as, what it holds and
 * what it must not — the machine's extra CA certificates, handed to the build
 * only as a BuildKit secret.
 */
describe.skipIf(await containerTierSkipped())('the image', () => {
  it('runs as the unprivileged user node (1000) with Node 24', async () => {
    const answer = await docker(['run', '--rm', '--entrypoint', 'sh', IMAGE, '-c', 'id -u; id -g; node --version']);
    const [uid, gid, version] = answer.trim().split('\n');
    expect({ uid, gid }).toEqual({ uid: '1000', gid: '1000' });
    expect(version).toMatch(/^v24\./);
  });

  it('holds production dependencies only: no test runner, linter, formatter or compiler of our own build', async () => {
    const store = await docker(['run', '--rm', '--entrypoint', 'ls', IMAGE, '/app/node_modules/.pnpm']);
    // (typescript itself stays: @nestjs/swagger depends on it at run time.)
    for (const tool of [
      'vitest@',
      'vite@',
      'eslint@',
      'prettier@',
      '@swc+core@',
      'unplugin-swc@',
      'kubernetes-models@',
      'dockerfile-ast@',
    ]) {
      expect(store.split('\n').filter((entry) => entry.startsWith(tool))).toEqual([]);
    }
    const size = Number(await docker(['image', 'inspect', IMAGE, '--format', '{{.Size}}']));
    console.log(`image ${IMAGE}: ${Math.round(size / 1e6)} MB`);
  });

  it('carries the built PKCS#11 binding (pkcs11js), SoftHSM2 and pkcs11-tool, and no compiler', async () => {
    const answer = await docker([
      'run',
      '--rm',
      ...AS_THE_CHART_RUNS_IT,
      '--entrypoint',
      'sh',
      IMAGE,
      '-c',
      `cd packages/trust && node -e "console.log(typeof require('pkcs11js').PKCS11)"; ls ${SOFTHSM2_MODULE}; command -v softhsm2-util; command -v pkcs11-tool; ` +
        'for tool in cc gcc g++ c++ make python3; do command -v $tool || true; done',
    ]);
    expect(answer.trim().split('\n')).toEqual(['function', SOFTHSM2_MODULE, '/usr/bin/softhsm2-util', '/usr/bin/pkcs11-tool']);
  });

  it("makes the platform issuing CA's key inside a SoftHSM token from the image, never extractable, and its request is signed offline", async () => {
    // The token's directory is the host's, as a volume is: the image's user (1000) writes it.
    const dir = await mkdtemp(join(tmpdir(), 'rampart-image-token-'));
    await chmod(dir, 0o777);
    try {
      await writeFile(join(dir, 'pin'), `${Buffer.from(crypto.getRandomValues(new Uint8Array(12))).toString('hex')}\n`, { mode: 0o644 });
      const inContainer = await docker([
        'run',
        '--rm',
        ...AS_THE_CHART_RUNS_IT,
        '--volume',
        `${dir}:/token`,
        '--env',
        'SOFTHSM2_CONF=/token/softhsm2.conf',
        '--entrypoint',
        'sh',
        IMAGE,
        '-ec',
        [
          'mkdir -p /token/tokens',
          'printf "directories.tokendir = /token/tokens\nobjectstore.backend = file\n" > /token/softhsm2.conf',
          'softhsm2-util --init-token --free --label image-test --so-pin so-pin-0000 --pin "$(cat /token/pin)" >/dev/null',
          `node apps/cli/dist/main.js ceremony issuing-csr --out /token/issuing.csr --pkcs11-module ${SOFTHSM2_MODULE} --token-label image-test --pin-file /token/pin -o json`,
          `pkcs11-tool --module ${SOFTHSM2_MODULE} --token-label image-test --login --pin "$(cat /token/pin)" --list-objects --type privkey`,
        ].join('\n'),
      ]);
      const made = JSON.parse(inContainer.slice(0, inContainer.indexOf('}') + 1)) as Record<string, unknown>;
      expect(made).toMatchObject({ keyLabel: 'rampart/platform/issuing-ca', algorithm: 'ecdsa-p256', generated: true, store: 'pkcs11' });
      // Read back from the token by OpenSC, not by our own code: the key is the token's and cannot leave it.
      const listed = inContainer.slice(inContainer.indexOf('}') + 1);
      expect(listed).toMatch(/Private Key Object; EC\s+label:\s+rampart\/platform\/issuing-ca/);
      expect(listed).toMatch(/Access:\s+sensitive, always sensitive, never extractable, local/);

      // The offline side, on the host: a root in an encrypted file signs the request; the chain verifies.
      await writeFile(join(dir, 'passphrase'), 'an offline passphrase for the test\n', { mode: 0o600 });
      const root = join(dir, 'root');
      await hostCli([
        'ceremony',
        'root',
        'create',
        '--out',
        root,
        '--common-name',
        'Image Test Root',
        '--passphrase-file',
        join(dir, 'passphrase'),
      ]);
      await hostCli([
        'ceremony',
        'issuing',
        'sign',
        '--root',
        root,
        '--csr',
        join(dir, 'issuing.csr'),
        '--out',
        join(dir, 'issuing.pem'),
        '--passphrase-file',
        join(dir, 'passphrase'),
      ]);
      const verified = await exec('openssl', ['verify', '-x509_strict', '-CAfile', join(root, 'root.pem'), join(dir, 'issuing.pem')], {
        encoding: 'utf8',
      });
      expect(verified.stdout.trim()).toBe(`${join(dir, 'issuing.pem')}: OK`);
      const csrKey = (await exec('openssl', ['req', '-in', join(dir, 'issuing.csr'), '-noout', '-pubkey'], { encoding: 'utf8' })).stdout;
      expect(new X509Certificate(await readFile(join(dir, 'issuing.pem'))).publicKey.export({ type: 'spki', format: 'pem' })).toBe(csrKey);
    } finally {
      // The token's files are the image user's: removed by that user.
      await docker([
        'run',
        '--rm',
        '--user',
        '1000:1000',
        '--volume',
        `${dir}:/token`,
        '--entrypoint',
        'rm',
        IMAGE,
        '-rf',
        '/token/tokens',
      ]);
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it("carries none of the machine's extra CA certificates (NODE_EXTRA_CA_CERTS)", async (context) => {
    const extraFile = process.env['NODE_EXTRA_CA_CERTS'];
    if (extraFile === undefined || extraFile === '') return context.skip('NODE_EXTRA_CA_CERTS is not set on this machine');
    const imageBundle = await docker(['run', '--rm', '--entrypoint', 'cat', IMAGE, '/etc/ssl/certs/ca-certificates.crt']);
    const debian = new Set(pemBodies(imageBundle));
    // The machine's additions: what it trusts beyond the certificates Debian ships in the image.
    const extra = pemBodies(await readFile(extraFile, 'utf8')).filter((body) => !debian.has(body));
    if (extra.length === 0) return context.skip(`${extraFile} adds nothing to Debian's certificates`);
    for (const body of extra) new X509Certificate(Buffer.from(body, 'base64')); // each is a real certificate
    // A 64-character run from the middle of each: what any copy of it, PEM or base64 in a config file, holds.
    const needles = extra.map((body) => body.slice(Math.floor(body.length / 2), Math.floor(body.length / 2) + 64));
    expect(await imageContains(IMAGE, needles)).toEqual([]);
  }, 120_000);
});
