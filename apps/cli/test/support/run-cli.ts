import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built `rampart` binary, run as a user runs it (tests of the CLI need `pnpm build` first, like the e2e tests). */
export const CLI = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs `rampart …args` with only the given environment (plus PATH), so a developer's own config is never read. */
export function runCli(args: readonly string[], env: Record<string, string>, stdin?: string): Promise<CliRun> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: performance.now() - started }));
    child.stdin.end(stdin ?? '');
  });
}
