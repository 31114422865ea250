import { readFile, writeFile } from 'node:fs/promises';

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

/**
 * Writes a file that must not exist yet (a key, a certificate it issued):
 * the check and the write are one step ('wx'), so two writers cannot both
 * win and nothing is ever overwritten. An existing file is `whenExists`'s
 * error, in the caller's words; any other failure is thrown as it came.
 */
export async function writeNewFile(
  path: string,
  text: string | Buffer,
  mode: number,
  whenExists: (path: string, cause: unknown) => Error,
): Promise<void> {
  try {
    await writeFile(path, text, { flag: 'wx', mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw whenExists(path, error);
    throw error;
  }
}
