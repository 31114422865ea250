import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyExistsError } from './key-errors.js';

/**
 * Where a software provider keeps its sealed keys (KeyVault output), by label.
 * A service backs it with its own table; `DirectorySealedKeyStore` backs it
 * with files for development and tests.
 */
export interface SealedKeyStore {
  /** Where the keys are, for messages ("directory /var/lib/…", "table ca_keys"). */
  readonly description: string;
  load(label: string): Promise<Buffer | undefined>;
  /** Stores a new sealed key; throws KeyExistsError when the label is taken (a key is never overwritten). */
  save(label: string, sealed: Buffer): Promise<void>;
  /**
   * Runs `then` once what this store just read or wrote (in the caller's context) is durable: at once, or, for a
   * store that joins the caller's transaction, after it commits, and never if it rolls back. The provider caches
   * an opened key only then: a key cached from a transaction that rolled back would sign in place of the key another
   * replica makes under the same label.
   */
  whenDurable(then: () => void): void;
}

/** One file per key, `<label with / as %2F>.sealed`, mode 0600, never overwritten. */
export class DirectorySealedKeyStore implements SealedKeyStore {
  constructor(private readonly directory: string) {}

  get description(): string {
    return `directory ${this.directory}`;
  }

  async load(label: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.fileOf(label));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async save(label: string, sealed: Buffer): Promise<void> {
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
    try {
      // 'wx': fail if it exists, so two generators racing for a label cannot both win.
      await writeFile(this.fileOf(label), sealed, { flag: 'wx', mode: 0o600 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new KeyExistsError(label, this.description);
      throw error;
    }
  }

  /** Files are written at once: nothing to wait for. */
  whenDurable(then: () => void): void {
    then();
  }

  private fileOf(label: string): string {
    return join(this.directory, `${encodeURIComponent(label)}.sealed`);
  }
}
