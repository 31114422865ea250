import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../src/index.js';

const run = promisify(execFile);

describe(`${CertificateAuthority.name} CRLs`, () => {
  let dir: string;
  let root: CertificateAuthority;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-crl-'));
    root = await CertificateAuthority.create('Test Platform Root', 3650, 1);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function crlText(pem: string): Promise<string> {
    const file = join(dir, `${Math.random().toString(36).slice(2)}.crl`);
    await writeFile(file, pem);
    return (await run('openssl', ['crl', '-in', file, '-noout', '-text'])).stdout;
  }

  it('carries the CRL Number it is given, non-critical, as openssl reads it (RFC 5280 §5.2.3)', async () => {
    const now = Date.now();
    const text = await crlText(
      await root.issueCrl([{ serialHex: '0badc0de', revokedAt: new Date(now) }], new Date(now), new Date(now + 3_600_000), 41),
    );
    expect(text).toMatch(/X509v3 CRL Number:\s*\n\s*41\s*\n/);
    expect(text).not.toMatch(/X509v3 CRL Number: critical/);
    expect(text).toMatch(/Serial Number: 0BADC0DE/);
  });

  it('refuses a CRL number that is not a non-negative integer', async () => {
    const now = new Date();
    await expect(root.issueCrl([], now, now, -1)).rejects.toThrow(RangeError);
    await expect(root.issueCrl([], now, now, 1.5)).rejects.toThrow(RangeError);
  });

  it('names the CRL distribution point of an intermediate it issues', async () => {
    const url = 'https://attestation.example/v1/platform/crl';
    const tenantCa = await root.issueIntermediate('Tenant CA', 30, { tenantId: 'acme', crlDistributionPoint: url });
    await writeFile(join(dir, 'tenant.pem'), tenantCa.certificatePem);
    const { stdout } = await run('openssl', ['x509', '-in', join(dir, 'tenant.pem'), '-noout', '-ext', 'crlDistributionPoints']);
    expect(stdout).toContain(`URI:${url}`);
  });
});
