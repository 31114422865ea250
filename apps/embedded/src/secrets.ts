import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Development secrets of an embedded installation, made once and kept in
 * the data folder (0700, files 0600): the key that seals tenant CA keys and
 * the platform operator token. A production installation mounts its own.
 */
export async function loadOrCreateSecret(dir: string, name: string, make: () => string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, name);
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const value = make();
    await writeFile(path, `${value}\n`, { mode: 0o600 });
    return value;
  }
}

export const newKeyEncryptionKey = (): string => randomBytes(32).toString('base64');
export const newOperatorToken = (): string => `rmp_op_${randomBytes(32).toString('base64url')}`;
