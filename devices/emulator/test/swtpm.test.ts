import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CertificateAuthority } from '@rampart/trust';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Swtpm, TPM_PROGRAMS, missingTpmPrograms } from '../src/tpm/swtpm.js';
import { manufactureTpm, storeTpmVendorCa, type TpmVendorCa } from '../src/tpm/tpm-factory.js';

describe(missingTpmPrograms.name, () => {
  let bin: string;
  let other: string;

  beforeAll(async () => {
    bin = await mkdtemp(join(tmpdir(), 'rampart-tpm-bin-'));
    other = await mkdtemp(join(tmpdir(), 'rampart-tpm-other-'));
    for (const program of TPM_PROGRAMS.filter((p) => p !== 'tpm2_quote')) {
      await writeFile(join(bin, program), '#!/bin/sh\n');
      await chmod(join(bin, program), 0o755);
    }
    // Present but not executable: not usable.
    await writeFile(join(bin, 'tpm2_quote'), '#!/bin/sh\n');
  });

  afterAll(async () => {
    await rm(bin, { recursive: true, force: true });
    await rm(other, { recursive: true, force: true });
  });

  it('names every program when none is on the path', async () => {
    expect(await missingTpmPrograms('')).toEqual([...TPM_PROGRAMS]);
    expect(await missingTpmPrograms(other)).toEqual([...TPM_PROGRAMS]);
  });

  it('names what is missing or not executable, looking through every folder of the path', async () => {
    expect(await missingTpmPrograms([other, bin].join(delimiter))).toEqual(['tpm2_quote']);
    await chmod(join(bin, 'tpm2_quote'), 0o755);
    expect(await missingTpmPrograms([other, bin].join(delimiter))).toEqual([]);
  });
});

/** Real swtpm and swtpm_setup: how a TPM is made, started and stopped, and what is left behind. */
describe(Swtpm.name, () => {
  let dir: string;
  let vendorDir: string;
  let vendor: TpmVendorCa;
  /** A line of the vendor key's PEM body: what a copy of the key would contain. */
  let keyLine: string;

  beforeAll(async () => {
    const stored = await (await CertificateAuthority.create('Test TPM Vendor CA')).export();
    vendorDir = await mkdtemp(join(tmpdir(), 'rampart-tpm-vendor-'));
    vendor = await storeTpmVendorCa(vendorDir, stored);
    keyLine = stored.privateKeyPem.trim().split('\n')[1]!;
  });

  afterAll(async () => {
    await rm(vendorDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-swtpm-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const filesUnder = async (folder: string): Promise<string[]> =>
    (await readdir(folder, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));

  it("signs the EK certificate with the vendor's key read where the vendor keeps it, no copy in the device's folder", async () => {
    await manufactureTpm(dir, vendor);
    const files = await filesUnder(dir);
    expect(files.some((f) => f.endsWith('tpm2-00.permall'))).toBe(true);
    expect(await readFile(join(dir, 'localca.conf'), 'utf8')).toContain(`signingkey = ${vendor.keyFile}\n`);
    for (const file of files) expect(await readFile(file, 'utf8'), file).not.toContain(keyLine);
  });

  it("leaves no copy of the vendor's key when swtpm_setup fails either", async () => {
    await expect(manufactureTpm(dir, { ...vendor, certificatePem: 'not a certificate' })).rejects.toThrow(/Command failed: swtpm_setup /);
    const files = await filesUnder(dir);
    expect(files.some((f) => f.endsWith('localca.conf'))).toBe(true);
    for (const file of files) expect(await readFile(file, 'utf8'), file).not.toContain(keyLine);
  });

  it('rejects start() when swtpm cannot be run, rather than throwing an uncaught error', async () => {
    const path = process.env['PATH'];
    process.env['PATH'] = dir;
    try {
      await expect(Swtpm.start(dir)).rejects.toThrow(/swtpm did not start: .*ENOENT/);
    } finally {
      process.env['PATH'] = path;
    }
  });

  it('does not take a socket left behind for a swtpm that is listening', async () => {
    // No TPM state: this swtpm exits at once. The sockets a previous run left must not make it look ready.
    await writeFile(join(dir, 'tpm.sock'), '');
    await writeFile(join(dir, 'tpm.sock.ctrl'), '');
    await expect(Swtpm.start(dir)).rejects.toThrow(/swtpm exited/);
  });

  it('stops with SIGTERM, and with SIGKILL when SIGTERM does not end it in time', async () => {
    await manufactureTpm(dir, vendor);
    const tpm = await Swtpm.start(dir);
    const pid = tpm.pid!;
    // A swtpm that ignores SIGTERM: stopped (SIGSTOP) processes keep SIGTERM pending, SIGKILL still ends them.
    process.kill(pid, 'SIGSTOP');
    const started = Date.now();
    await tpm.stop(300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  /**
   * A program using the emulator, run from the TypeScript source (Node strips the types; no stale build): `handler`
   * is its own SIGTERM handling, registered before its swtpm starts. Prints the swtpm's pid, then idles.
   */
  const program = (handler: string): string =>
    [
      `import { Swtpm } from ${JSON.stringify(fileURLToPath(new URL('../src/tpm/swtpm.ts', import.meta.url)))};`,
      handler,
      `const tpm = await Swtpm.start(${JSON.stringify(dir)});`,
      'console.log(tpm.pid);',
      'setInterval(() => undefined, 1000);',
    ].join('\n');

  const runProgram = async (handler: string): Promise<{ child: ChildProcess; swtpmPid: number }> => {
    const child = spawn(
      process.execPath,
      ['--experimental-transform-types', '--no-warnings', '--input-type=module', '-e', program(handler)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const swtpmPid = Number(line.toString().trim());
    expect(alive(swtpmPid)).toBe(true);
    return { child, swtpmPid };
  };

  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  const gone = async (pid: number): Promise<boolean> => {
    for (const deadline = Date.now() + 3_000; alive(pid) && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 20));
    return !alive(pid);
  };

  it('kills its swtpms when the process ends on a SIGTERM it does not handle', async () => {
    await manufactureTpm(dir, vendor);
    const { child, swtpmPid } = await runProgram('');
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    expect((await exited)[1]).toBe('SIGTERM');
    expect(await gone(swtpmPid), 'the swtpm outlived its process').toBe(true);
  });

  it("leaves a program's own once-SIGTERM handler to close in order, and its swtpm still dies with it", async () => {
    await manufactureTpm(dir, vendor);
    // As closeOnSignals does: a once-handler, which an emulator-side process-wide handler must not pre-empt.
    const handler = [
      "process.once('SIGTERM', () => {",
      "  setTimeout(() => { console.log('closed'); process.exit(0); }, 100);",
      '});',
    ].join('\n');
    const { child, swtpmPid } = await runProgram(handler);
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    expect(await exited).toEqual([0, null]);
    expect(out).toContain('closed');
    expect(await gone(swtpmPid), 'the swtpm outlived its process').toBe(true);
  });
});
