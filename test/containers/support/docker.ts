import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The docker client on PATH (any version that talks to the engine: run, start, stop, kill, logs, inspect). */
export async function docker(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<string> {
  try {
    const { stdout } = await execFileAsync('docker', [...args], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      timeout: options.timeoutMs ?? 120_000,
    });
    return stdout;
  } catch (error) {
    // Neither the command line nor the raw error (which repeats it) goes into the message: only what docker said.
    const failed = error as { stderr?: string; code?: unknown; killed?: boolean };
    const said = (failed.stderr ?? '').trim() || (failed.killed === true ? 'timed out' : `exit ${String(failed.code)}`);
    throw new Error(`docker ${args[0]}: ${said}`); // eslint-disable-line preserve-caught-error -- the cause would print the command line
  }
}

export async function dockerAvailable(): Promise<boolean> {
  return docker(['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 10_000 }).then(
    () => true,
    () => false,
  );
}

/**
 * Whether the container tier skips: only where no Docker engine answers and
 * this is not CI. In CI a missing engine fails the tier (its first docker
 * call does), so a green run never hides a skipped tier.
 */
export async function containerTierSkipped(): Promise<boolean> {
  return !(await dockerAvailable()) && process.env['CI'] !== 'true';
}

export interface ContainerState {
  readonly running: boolean;
  readonly exitCode: number;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly oomKilled: boolean;
}

export async function containerState(name: string): Promise<ContainerState> {
  const [state] = JSON.parse(await docker(['inspect', '--format', '{{json .State}}', name]).then((s) => `[${s}]`)) as Array<{
    Running: boolean;
    ExitCode: number;
    StartedAt: string;
    FinishedAt: string;
    OOMKilled: boolean;
  }>;
  return {
    running: state!.Running,
    exitCode: state!.ExitCode,
    startedAt: state!.StartedAt,
    finishedAt: state!.FinishedAt,
    oomKilled: state!.OOMKilled,
  };
}

/** The last lines a container wrote (stdout and stderr), for an error message. */
export async function logTail(name: string, lines = 30): Promise<string> {
  return execFileAsync('docker', ['logs', '--tail', String(lines), name], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => `${stdout}${stderr}`.trim(),
    (error: Error) => `(no logs: ${error.message})`,
  );
}

/** Removes every container, and then every volume, whose name starts with `prefix` (a run's leftovers). */
export async function removeContainers(prefix: string): Promise<void> {
  const names = (await docker(['ps', '--all', '--format', '{{.Names}}'])).split('\n').filter((n) => n.startsWith(prefix));
  if (names.length > 0) await docker(['rm', '--force', '--volumes', ...names]);
  const volumes = (await docker(['volume', 'ls', '--format', '{{.Name}}'])).split('\n').filter((n) => n.startsWith(prefix));
  if (volumes.length > 0) await docker(['volume', 'rm', '--force', ...volumes]);
}
