import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { containerTierSkipped, docker } from './support/docker.js';

const IMAGE = process.env['IMAGE'] ?? 'rampart:dev';

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
