import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { constants } from 'node:fs';
import { access, rm } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Persistent handles and NV indices swtpm_setup provisions (TCG EK Credential Profile §2.2.1.4, template L-1). */
export const EK_HANDLE = '0x81010001';
export const EK_CERT_NV_INDEX = '0x1c00002';
/** How long to wait for swtpm's socket to appear. */
export const DEFAULT_SWTPM_START_TIMEOUT_MS = 5_000;
/** How long `stop` waits after SIGTERM before SIGKILL. */
export const DEFAULT_SWTPM_STOP_TIMEOUT_MS = 3_000;

/**
 * The programs a TPM device runs: Debian's swtpm, swtpm-tools and tpm2-tools, and util-linux's setpriv (which starts
 * each swtpm so that the kernel kills it when its parent dies).
 */
export const TPM_PROGRAMS = [
  'setpriv',
  'swtpm',
  'swtpm_setup',
  'swtpm_localca',
  'tpm2_quote',
  'tpm2_createak',
  'tpm2_activatecredential',
] as const;

/**
 * The TPM programs missing from PATH (empty: TPM devices can run). A fleet asked for TPM devices says which are
 * missing and how to install them, rather than failing at the first device's factory step.
 */
export async function missingTpmPrograms(path = process.env['PATH'] ?? ''): Promise<string[]> {
  const found = await Promise.all(TPM_PROGRAMS.map((program) => findProgram(program, path)));
  return TPM_PROGRAMS.filter((_, i) => found[i] === undefined);
}

/** Where `program` is on `path`: the first folder holding it executable (undefined: nowhere). */
export async function findProgram(program: string, path = process.env['PATH'] ?? ''): Promise<string | undefined> {
  for (const dir of path.split(delimiter).filter((d) => d !== '')) {
    try {
      await access(join(dir, program), constants.X_OK);
      return join(dir, program);
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

/**
 * A running swtpm on a Unix socket in the device's folder (no port to collide with), its state in `dir/state`. The
 * tpm2-tools reach it through the swtpm TCTI (`swtpm:path=…`; the control channel is `<path>.ctrl`). Each start is a
 * power-on: TPM2_Startup(CLEAR) resets the PCRs.
 */
export class Swtpm {
  private constructor(
    private readonly child: ChildProcess,
    readonly socketPath: string,
  ) {}

  static async start(dir: string, timeoutMs = DEFAULT_SWTPM_START_TIMEOUT_MS): Promise<Swtpm> {
    const socketPath = join(dir, 'tpm.sock');
    // A socket left by a swtpm that did not stop would pass for this one's readiness.
    await Promise.all([rm(socketPath, { force: true }), rm(`${socketPath}.ctrl`, { force: true })]);
    // PR_SET_PDEATHSIG: the kernel kills this swtpm when the process that started it ends, however it ends — no
    // process-wide signal handler, which would decide for the program how it shuts down. setpriv execs swtpm: same pid.
    const child = spawn(
      'setpriv',
      [
        '--pdeathsig',
        'SIGKILL',
        '--',
        'swtpm',
        'socket',
        '--tpm2',
        '--tpmstate',
        `dir=${join(dir, 'state')}`,
        '--server',
        `type=unixio,path=${socketPath}`,
        '--ctrl',
        `type=unixio,path=${socketPath}.ctrl`,
        '--flags',
        'not-need-init,startup-clear',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    // Not there (ENOENT), not executable: 'error' instead of 'exit', which would otherwise be thrown uncaught.
    let failed: Error | undefined;
    child.on('error', (error) => (failed ??= error));
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (failed !== undefined) throw new Error(`swtpm did not start: ${failed.message}`, { cause: failed });
      if (child.exitCode !== null) throw new Error(`swtpm exited (${child.exitCode}): ${stderr}`);
      try {
        await access(`${socketPath}.ctrl`);
        await access(socketPath);
        return new Swtpm(child, socketPath);
      } catch {
        if (Date.now() > deadline) {
          child.kill('SIGKILL');
          throw new Error(`swtpm did not listen within ${timeoutMs} ms: ${stderr}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }

  get tcti(): string {
    return `swtpm:path=${this.socketPath}`;
  }

  /** Runs one tpm2-tools command against this TPM; stdout as text. */
  async tool(command: string, args: readonly string[], cwd: string): Promise<string> {
    const { stdout } = await run(command, [...args], { cwd, env: { ...process.env, TPM2TOOLS_TCTI: this.tcti } });
    return stdout;
  }

  /** The swtpm process's id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** SIGTERM, and SIGKILL if it has not exited within `timeoutMs`. */
  async stop(timeoutMs = DEFAULT_SWTPM_STOP_TIMEOUT_MS): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
    try {
      if ((await Promise.race([exited, late])) === 'late') {
        this.child.kill('SIGKILL');
        await exited;
      }
    } finally {
      clearTimeout(timer);
    }
  }
}
