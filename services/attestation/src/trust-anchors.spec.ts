import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority } from '@rampart/trust';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCertificateBundle, tpmVendors } from './trust-anchors.js';

describe('trust anchors read at start-up', () => {
  let dir: string;
  let root: CertificateAuthority;
  const file = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-anchors-'));
    root = await CertificateAuthority.create('Anchor Test Root', 3650, 1);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads TPM vendors: none unset, a root and its issuing CA when set', async () => {
    expect(await tpmVendors(undefined)).toBeNull();
    const issuing = await root.issueIntermediate('Anchor Test Issuing CA', 365);
    expect(await tpmVendors(await file('good.pem', `${root.certificatePem}\n${issuing.certificatePem}`))).not.toBeNull();
  });

  it('names TPM_VENDOR_CA_FILE when it holds no certificate, one that does not parse, no CA or no root', async () => {
    const issuing = await root.issueIntermediate('Lone Issuing CA', 365);
    const leaf = await root.issueServerCertificate('leaf.test', ['leaf.test'], []);
    const broken = '-----BEGIN CERTIFICATE-----\nTUlJQm9vdA==\n-----END CERTIFICATE-----\n';
    await expect(tpmVendors(await file('empty.pem', 'nothing here'))).rejects.toThrow(/^TPM_VENDOR_CA_FILE holds no certificate/);
    await expect(tpmVendors(await file('broken.pem', broken))).rejects.toThrow(
      /^TPM_VENDOR_CA_FILE holds a certificate that does not parse/,
    );
    await expect(tpmVendors(await file('no-root.pem', issuing.certificatePem))).rejects.toThrow(
      /^TPM_VENDOR_CA_FILE .*no self-signed root/,
    );
    await expect(tpmVendors(await file('leaf.pem', `${root.certificatePem}\n${leaf.certificatePem}`))).rejects.toThrow(
      /^TPM_VENDOR_CA_FILE .*not a CA certificate/,
    );
  });

  it('names MANUFACTURER_CA_FILE the same way', async () => {
    await expect(readCertificateBundle('MANUFACTURER_CA_FILE', await file('m.pem', ''))).rejects.toThrow(
      /^MANUFACTURER_CA_FILE holds no certificate/,
    );
  });
});
