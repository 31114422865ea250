import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FuseError, Fuses } from './fuses.js';
import { SealedStorage, UnsealError } from './sealed-storage.js';
import { SecuritySubsystem } from './security-subsystem.js';
import { DirectoryStateStore, MemoryStateStore } from './state-store.js';

describe('fuses', () => {
  it('count only up, burn only once, and survive a restart', () => {
    const store = new MemoryStateStore();
    const fuses = new Fuses(store);
    fuses.advance('os', 3);
    fuses.advance('os', 3);
    expect(() => fuses.advance('os', 2)).toThrow(FuseError);
    fuses.burn('key.platform', 'abc');
    expect(() => fuses.burn('key.platform', 'evil')).toThrow(/already burned/);
    const again = new Fuses(store);
    expect(again.counter('os')).toBe(3);
    expect(again.burned('key.platform')).toBe('abc');
  });
});

describe('sealed storage', () => {
  it('opens only on the device and for the label it was sealed for, and never when tampered', () => {
    const mine = new SealedStorage(Buffer.alloc(32, 1));
    const other = new SealedStorage(Buffer.alloc(32, 2));
    const sealed = mine.seal('wifi', Buffer.from('secret'));
    expect(mine.unseal('wifi', sealed).toString()).toBe('secret');
    expect(() => mine.unseal('other-label', sealed)).toThrow(UnsealError);
    expect(() => other.unseal('wifi', sealed)).toThrow(UnsealError);
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 1]! ^= 1;
    expect(() => mine.unseal('wifi', flipped)).toThrow(UnsealError);
  });
});

describe('security subsystem on a directory store (a pod volume)', () => {
  it('keeps its identity across restarts, with the key sealed at rest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rampart-device-'));
    try {
      const first = new SecuritySubsystem(new DirectoryStateStore(dir));
      const second = new SecuritySubsystem(new DirectoryStateStore(dir));
      expect(second.deviceId).toBe(first.deviceId);
      // The key at rest opens only with this device's hardware-unique secret.
      const store = new DirectoryStateStore(dir);
      store.write('huk', Buffer.alloc(32, 7));
      expect(() => new SecuritySubsystem(store)).toThrow(UnsealError);
      expect(() => new DirectoryStateStore(dir).read('../etc/passwd')).toThrow(/not a state entry name/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
