import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TPM2_QUOTE_KIND, type Tpm2AttestRequest } from '@rampart/contracts';
import { CertificateAuthority } from '@rampart/trust';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BootResult } from '../src/mcu/secure-boot.js';
import { manufactureTpm, storeTpmVendorCa } from '../src/tpm/tpm-factory.js';
import { TpmAttestor } from '../src/tpm/tpm-attestor.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** A boot as secure boot reports it: what `TpmAttestor.booted` measures into the TPM. */
const BOOT: BootResult = {
  mode: 'normal',
  bootLog: [
    { stage: 'rom', sha256: sha('rom') },
    { stage: 'bootloader', sha256: sha('bootloader') },
    { stage: 'os', sha256: sha('os') },
  ],
  signers: {},
  securityVersions: { bootloader: 1, os: 2 },
  stageVersions: { bootloader: '1.0.0', os: '2.0.0' },
  versions: { os: '2.0.0', apps: {} },
  osSlot: undefined,
  apps: [],
  failures: [],
};

/** Real swtpm and tpm2-tools: a power-on fails because the device's TPM is not there yet, then is. */
describe(TpmAttestor.name, () => {
  let dir: string;
  let attestor: TpmAttestor;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-tpm-attestor-'));
    attestor = new TpmAttestor({ dir, deviceId: 'device-1', idevidPem: '' });
  });

  afterEach(async () => {
    await attestor.shutdown();
    await rm(dir, { recursive: true, force: true });
  });

  it('tries a failed power-on again with the same boot, rather than staying off until the next reboot', async () => {
    // A TPM not manufactured yet: swtpm starts on an empty state, and this power-on fails when the AK is made (no
    // EK to make it under), and so does the first retry.
    await mkdir(join(dir, 'state'));
    attestor.booted(BOOT);
    await expect(attestor.request()).rejects.toThrow();
    // Each failed power-on shut its TPM down and removed its tools' scratch folder.
    expect((await readdir(dir)).filter((name) => name.startsWith('tools-'))).toEqual([]);
    const stored = await (await CertificateAuthority.create('Test TPM Vendor CA')).export();
    await manufactureTpm(dir, await storeTpmVendorCa(join(dir, 'vendor'), stored));
    // The same boot, no reboot in between: the next request powers the TPM on and asks with its EK and a new AK.
    const request = JSON.parse(await attestor.request()) as Tpm2AttestRequest;
    expect(request.kind).toBe(TPM2_QUOTE_KIND);
    expect(request.ekCertificate.length).toBeGreaterThan(0);
    expect(request.akPublic.length).toBeGreaterThan(0);
    // Powered on now: the TPM is kept, not started again for every call.
    expect(JSON.parse(await attestor.request())).toMatchObject({ ekPublic: request.ekPublic, akPublic: request.akPublic });
  });

  it('stays off after shutdown: no power-on without a boot', async () => {
    attestor.booted(BOOT);
    await expect(attestor.request()).rejects.toThrow();
    await attestor.shutdown();
    await expect(attestor.request()).rejects.toThrow('the TPM is off');
  });
});
