import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority } from '@rampart/trust';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryStateStore } from '../src/mcu/state-store.js';
import { manufactureTpmDevice, storeTpmVendorCa, type TpmVendorCa } from '../src/tpm/tpm-factory.js';

/** Real swtpm: a device kept on its state is the same device only with the TPM its IDevID names. */
describe(manufactureTpmDevice.name, () => {
  let dir: string;
  let vendor: TpmVendorCa;
  let manufacturer: CertificateAuthority;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-tpm-factory-'));
    const stored = await (await CertificateAuthority.create('Test TPM Vendor CA')).export();
    vendor = await storeTpmVendorCa(join(dir, 'vendor'), stored);
    manufacturer = await CertificateAuthority.create('Test Manufacturer CA', undefined, 0);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns the device as it was on its TPM and state, and refuses its state with another TPM', async () => {
    const store = () => new DirectoryStateStore(join(dir, 'device'));
    const first = await manufactureTpmDevice(join(dir, 'tpm'), vendor, manufacturer, { store: store() });
    const again = await manufactureTpmDevice(join(dir, 'tpm'), vendor, manufacturer, { store: store() });
    expect(again.deviceId).toBe(first.deviceId);
    expect(again.idevidPem).toBe(first.idevidPem);
    // The device's state kept, its TPM not: a new TPM, whose EK the kept IDevID does not name.
    await expect(manufactureTpmDevice(join(dir, 'other-tpm'), vendor, manufacturer, { store: store() })).rejects.toThrow(
      new RegExp(`device ${first.deviceId}: its IDevID names TPM [0-9a-f]+, but the TPM in .*other-tpm is [0-9a-f]+`),
    );
  });
});
