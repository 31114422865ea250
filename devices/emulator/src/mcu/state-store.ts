import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where an emulated device keeps what survives a power cycle: its sealed
 * key, fuses, flash slots. Synchronous on purpose — a device's flash write
 * either happened before the power went or it did not, and a power-loss
 * test needs that to be exact.
 */
export interface DeviceStateStore {
  read(name: string): Buffer | undefined;
  /** Atomic: after a crash the old or the new content is there, never a mix. */
  write(name: string, data: Uint8Array): void;
}

/** State in memory: fast, for fleets and tests; a "restart" keeps it as long as the object lives. */
export class MemoryStateStore implements DeviceStateStore {
  private readonly entries = new Map<string, Buffer>();

  read(name: string): Buffer | undefined {
    return this.entries.get(name);
  }

  write(name: string, data: Uint8Array): void {
    this.entries.set(name, Buffer.from(data));
  }
}

const SAFE_NAME = /^[a-z0-9][a-z0-9._-]{0,100}$/;

/** State in a directory (a pod's volume): identity and slots survive a process restart. */
export class DirectoryStateStore implements DeviceStateStore {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  read(name: string): Buffer | undefined {
    try {
      return readFileSync(this.path(name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  write(name: string, data: Uint8Array): void {
    const path = this.path(name);
    const temporary = `${path}.tmp`;
    writeFileSync(temporary, data, { mode: 0o600 });
    renameSync(temporary, path);
  }

  private path(name: string): string {
    if (!SAFE_NAME.test(name)) throw new RangeError(`not a state entry name: ${name}`);
    return join(this.dir, name);
  }
}
