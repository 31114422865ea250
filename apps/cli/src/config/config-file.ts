import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** One API and the token used with it (kubectl's context, the aws CLI's profile). */
export interface Context {
  readonly api: string;
  readonly token: string;
}

export interface CliConfig {
  readonly contexts: Readonly<Record<string, Context>>;
  readonly current: string | null;
}

export const EMPTY_CONFIG: CliConfig = { contexts: {}, current: null };

/** `$XDG_CONFIG_HOME/rampart/config.json`, default `~/.config/rampart/config.json` (XDG Base Directory spec). */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_CONFIG_HOME'];
  const base = xdg !== undefined && xdg.startsWith('/') ? xdg : join(env['HOME'] ?? homedir(), '.config');
  return join(base, 'rampart', 'config.json');
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * The config file, or an empty one when there is none. Like ssh with a private
 * key, a file that others can read (it holds tokens) is refused, with the fix.
 */
export async function readConfig(path: string): Promise<CliConfig> {
  let text: string;
  try {
    const info = await stat(path);
    if ((info.mode & 0o077) !== 0)
      throw new ConfigError(
        `${path} is readable by others (mode ${(info.mode & 0o777).toString(8)}); it holds API tokens: run chmod 600 ${path}`,
      );
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_CONFIG;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(`${path} is not JSON: fix it, or delete it and run rampart login`);
  }
  return validated(parsed, path);
}

function validated(value: unknown, path: string): CliConfig {
  const bad = (why: string): never => {
    throw new ConfigError(`${path}: ${why}; fix it, or delete it and run rampart login`);
  };
  if (value === null || typeof value !== 'object') return bad('not an object');
  const { contexts, current } = value as { contexts?: unknown; current?: unknown };
  if (contexts === null || typeof contexts !== 'object' || Array.isArray(contexts)) return bad('"contexts" is not an object');
  const checked: Record<string, Context> = {};
  for (const [name, context] of Object.entries(contexts as Record<string, unknown>)) {
    const c = context as { api?: unknown; token?: unknown } | null;
    if (c === null || typeof c !== 'object' || typeof c.api !== 'string' || typeof c.token !== 'string')
      return bad(`context "${name}" needs "api" and "token" strings`);
    checked[name] = { api: c.api, token: c.token };
  }
  if (current !== null && current !== undefined && typeof current !== 'string') return bad('"current" is not a string');
  return { contexts: checked, current: typeof current === 'string' ? current : null };
}

/** Writes atomically (a 0600 temp file in the same 0700 directory, then rename): a crash never leaves half a file. */
export async function writeConfig(path: string, config: CliConfig): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const temp = `${path}.${process.pid}.tmp`;
  const file = await open(temp, 'w', 0o600);
  try {
    await file.writeFile(`${JSON.stringify(config, null, 2)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await chmod(temp, 0o600); // the umask may have narrowed it further, never widened: make it exact
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
