import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readIfPresent } from './stored-file.js';

describe(readIfPresent.name, () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-stored-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('returns what is stored, and undefined for what was never made', async () => {
    await writeFile(join(dir, 'made.key'), 'secret\n');
    expect(await readIfPresent(join(dir, 'made.key'))).toBe('secret\n');
    expect(await readIfPresent(join(dir, 'never-made.key'))).toBeUndefined();
  });

  it('throws any other failure rather than taking it for absent (a folder where a file should be)', async () => {
    await expect(readIfPresent(dir)).rejects.toMatchObject({ code: 'EISDIR' });
  });
});
