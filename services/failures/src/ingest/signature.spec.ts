import { describe, expect, it } from 'vitest';
import { bucketSignature, bucketTitle, normaliseFrame } from './signature.js';

const crash = {
  tenantId: 'acme',
  kind: 'app-crash',
  component: 'app:sensor',
  version: '1.1.0',
  exitCode: 1,
  signal: null,
  message: 'TypeError: Cannot read properties of undefined (reading offset)',
  frames: [
    { function: 'smooth', file: 'app:sensor@1.1.0', line: 12, column: 7 },
    { function: 'tick', file: 'app:sensor@1.1.0', line: 20, column: 3 },
  ],
};

describe('bucket signature', () => {
  it('ignores line, column, message text and the version in file names', () => {
    const moved = { ...crash, message: 'other words', frames: crash.frames.map((f) => ({ ...f, line: f.line + 5, column: 1 })) };
    expect(bucketSignature(moved)).toBe(bucketSignature(crash));
    expect(normaliseFrame({ function: 'fn 0xdeadbeef', file: 'app:sensor@9.9.9' })).toBe('fn ?@app:sensor');
  });

  it('separates tenants, versions, exit codes, signals and different top frames', () => {
    const base = bucketSignature(crash);
    for (const other of [
      { ...crash, tenantId: 'globex' },
      { ...crash, version: '1.2.0' },
      { ...crash, exitCode: 2 },
      { ...crash, exitCode: null, signal: 'SIGKILL' },
      { ...crash, frames: [{ function: 'calibrate', file: 'app:sensor@1.1.0' }, ...crash.frames] },
    ]) {
      expect(bucketSignature(other)).not.toBe(base);
    }
  });

  it('buckets frameless failures by their message without its numbers', () => {
    const update = { ...crash, kind: 'update-failure', frames: [], message: 'image is 70000 bytes, more than the 65536 declared' };
    expect(bucketSignature(update)).toBe(bucketSignature({ ...update, message: 'image is 80000 bytes, more than the 65536 declared' }));
    expect(bucketTitle(update)).toBe('update-failure in app:sensor 1.1.0: image is N bytes, more than the N declared');
    expect(bucketTitle(crash)).toBe('app-crash in app:sensor 1.1.0: smooth@app:sensor');
  });
});
