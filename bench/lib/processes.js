import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * Starts a Node script as its own process and resolves once a JSON log line
 * matches `ready`; returns the line and a stop function.
 * @param {string} entry
 * @param {Record<string, string>} env
 * @param {(line: Record<string, unknown>) => boolean} ready
 */
export function startNode(entry, env, ready, timeoutMs = 30_000) {
  const child = spawn(process.execPath, [entry], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr = [];
  createInterface({ input: child.stderr }).on('line', (l) => stderr.push(l));
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve(undefined);
      child.once('exit', () => resolve(undefined));
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} not ready in ${timeoutMs} ms: ${stderr.join('\n')}`)), timeoutMs);
    const lines = [];
    createInterface({ input: child.stdout }).on('line', (text) => {
      let line;
      try {
        line = JSON.parse(text);
      } catch {
        return;
      }
      lines.push(line);
      if (ready(line)) {
        clearTimeout(timer);
        resolve({ child, line, lines, stderr, stop });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited with ${code}: ${stderr.join('\n')}`));
    });
  });
}
