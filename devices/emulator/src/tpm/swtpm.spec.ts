import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TPM_PROGRAMS, missingTpmPrograms } from './swtpm.js';

describe(missingTpmPrograms.name, () => {
  let bin: string;
  let other: string;

  beforeAll(async () => {
    bin = await mkdtemp(join(tmpdir(), 'rampart-tpm-bin-'));
    other = await mkdtemp(join(tmpdir(), 'rampart-tpm-other-'));
    for (const program of TPM_PROGRAMS.filter((p) => p !== 'tpm2_quote')) {
      await writeFile(join(bin, program), '#!/bin/sh\n');
      await chmod(join(bin, program), 0o755);
    }
    // Present but not executable: not usable.
    await writeFile(join(bin, 'tpm2_quote'), '#!/bin/sh\n');
  });

  afterAll(async () => {
    await rm(bin, { recursive: true, force: true });
    await rm(other, { recursive: true, force: true });
  });

  it('names every program when none is on the path', async () => {
    expect(await missingTpmPrograms('')).toEqual([...TPM_PROGRAMS]);
    expect(await missingTpmPrograms(other)).toEqual([...TPM_PROGRAMS]);
  });

  it('names what is missing or not executable, looking through every folder of the path', async () => {
    expect(await missingTpmPrograms([other, bin].join(delimiter))).toEqual(['tpm2_quote']);
    await chmod(join(bin, 'tpm2_quote'), 0o755);
    expect(await missingTpmPrograms([other, bin].join(delimiter))).toEqual([]);
  });
});
