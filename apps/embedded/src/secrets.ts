import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readIfPresent } from '@rampart/trust';

/**
 * Development secrets of an embedded installation, made once and kept in
 * the data folder (0700, files 0600): the key that seals tenant CA keys and
 * the platform operator token. A production installation mounts its own.
 */
export async function loadOrCreateSecret(dir: string, name: string, make: () => string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, name);
  const stored = await readIfPresent(path);
  if (stored !== undefined) return stored.trim();
  const value = make();
  await writeFile(path, `${value}\n`, { mode: 0o600 });
  return value;
}

export const newKeyEncryptionKey = (): string => randomBytes(32).toString('base64');
export const newOperatorToken = (): string => `rmp_op_${randomBytes(32).toString('base64url')}`;
