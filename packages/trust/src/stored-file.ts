import { readFile } from 'node:fs/promises';

/**
 * A stored key, certificate or secret, or undefined when it was never made:
 * the "load or create" of development material. Any other failure (a file
 * the process may not read) is thrown, never taken for "absent".
 */
export async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
