import { execFile } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTRY, REPO_ROOT } from '../support/service-process.js';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The built `rampart` command, run in `cwd` as a user types it. */
function rampart(cwd: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ENTRY.cli, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

describe('rampart keys create, image pack and image verify (the built command)', () => {
  let cwd: string;
  let keyId: string;

  beforeAll(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'rampart-image-cli-'));
    await writeFile(join(cwd, 'os.bin'), 'an operating system built by its owner');
  });

  afterAll(async () => {
    await rm(cwd, { recursive: true, force: true });
  });

  it('creates a key pair: private key 0600, never printed; the key id is the SHA-256 of the public key', async () => {
    const run = await rampart(cwd, 'keys', 'create', 'platform', '--dir', 'keys');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const privatePem = await readFile(join(cwd, 'keys/platform.key'), 'utf8');
    expect(privatePem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect((await stat(join(cwd, 'keys/platform.key'))).mode & 0o777).toBe(0o600);
    const spki = createPublicKey(await readFile(join(cwd, 'keys/platform.pub'), 'utf8')).export({ type: 'spki', format: 'der' });
    keyId = createHash('sha256').update(spki).digest('hex');
    expect(run.stdout).toContain(`key id       ${keyId}`);
    expect(run.stdout).not.toContain('PRIVATE KEY');
    expect(run.stdout).not.toContain(privatePem.split('\n')[1]);
  });

  it('refuses to overwrite a key, and leaves it as it was', async () => {
    const before = await readFile(join(cwd, 'keys/platform.key'), 'utf8');
    const run = await rampart(cwd, 'keys', 'create', 'platform', '--dir', 'keys');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/keys\/platform.key exists; a key file is never overwritten/);
    expect(await readFile(join(cwd, 'keys/platform.key'), 'utf8')).toBe(before);
  });

  it('packs an OS image that verifies with the public key; -o json prints the manifest', async () => {
    const pack = await rampart(
      cwd,
      ...'image pack --component os --version 1.1.0 --security-version 1'.split(' '),
      '--key',
      'keys/platform.key',
      '--payload',
      'os.bin',
      '--out',
      'os-1.1.0.rimg',
    );
    expect(pack).toMatchObject({ code: 0, stderr: '' });
    expect(pack.stdout).toContain(`signer key id     ${keyId}`);
    const verify = await rampart(cwd, 'image', 'verify', 'os-1.1.0.rimg', '--key', 'keys/platform.pub');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/^os-1.1.0.rimg: verified with keys\/platform.pub/);
    const json = await rampart(cwd, 'image', 'verify', 'os-1.1.0.rimg', '--key', 'keys/platform.pub', '-o', 'json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      verified: true,
      image: { manifest: { component: 'os', version: '1.1.0', securityVersion: 1, hardware: 'rampart-emu-1' }, signerKeyId: keyId },
    });
  });

  it('exits 1 with the reason for another key or a changed byte', async () => {
    await rampart(cwd, 'keys', 'create', 'other', '--dir', 'keys');
    const wrongKey = await rampart(cwd, 'image', 'verify', 'os-1.1.0.rimg', '--key', 'keys/other.pub');
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(new RegExp(`does NOT verify\\n  - signed by key ${keyId}, not by the given key [0-9a-f]{64}`));
    const bytes = await readFile(join(cwd, 'os-1.1.0.rimg'));
    bytes[bytes.length - 1]! ^= 0x01;
    await writeFile(join(cwd, 'tampered.rimg'), bytes);
    const tampered = await rampart(cwd, 'image', 'verify', 'tampered.rimg', '--key', 'keys/platform.pub', '-o', 'json');
    expect(tampered.code).toBe(1);
    expect(JSON.parse(tampered.stdout)).toMatchObject({ verified: false, image: { signature: 'bad-signature' } });
    expect(tampered.stderr).toMatch(/tampered.rimg does not verify: the signature does not verify/);
  });

  it('packs an app directory with the manifest.json it holds', async () => {
    const appDir = join(REPO_ROOT, 'devices/apps/sensor');
    const pack = await rampart(
      cwd,
      'image',
      'pack',
      '--app-dir',
      appDir,
      '--key',
      'keys/platform.key',
      '--out',
      'sensor.rimg',
      '-o',
      'json',
    );
    expect(pack.code).toBe(0);
    const manifest = JSON.parse(await readFile(join(appDir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    expect(JSON.parse(pack.stdout)).toMatchObject({ manifest: { ...manifest, hardware: 'rampart-emu-1' } });
    expect((await rampart(cwd, 'image', 'verify', 'sensor.rimg', '--key', 'keys/platform.pub')).code).toBe(0);
  });

  it('names the valid values of a bad input', async () => {
    const pack = (...args: string[]) =>
      rampart(cwd, 'image', 'pack', '--key', 'keys/platform.key', '--payload', 'os.bin', '--out', 'x.rimg', ...args);
    const component = await pack('--component', 'kernel', '--version', '1.0.0', '--security-version', '1');
    expect(component.code).toBe(1);
    expect(component.stderr).toMatch(/component: "kernel" is not a component: os, bootloader, security-monitor or app:<name>/);
    const version = await pack('--component', 'os', '--version', 'one point oh', '--security-version', '1');
    expect(version.stderr).toMatch(/version: "one point oh" is not a version: 1-64 letters, digits/);
    const security = await pack('--component', 'os', '--version', '1.0.0', '--security-version', '70000');
    expect(security.code).not.toBe(0);
    expect(security.stderr).toMatch(/a whole number from 0 to 65535/);
    const key = await rampart(
      cwd,
      ...'image pack --component os --version 1.0.0 --security-version 1 --key keys/missing.key --payload os.bin --out x.rimg'.split(' '),
    );
    expect(key.code).toBe(1);
    expect(key.stderr).toMatch(/cannot read the key file keys\/missing.key \(ENOENT\)/);
    const notImage = await rampart(cwd, 'image', 'verify', 'os.bin');
    expect(notImage.code).toBe(1);
    expect(notImage.stderr).toMatch(/not a Rampart image/);
    await expect(stat(join(cwd, 'x.rimg'))).rejects.toThrow(/ENOENT/);
  });
});
