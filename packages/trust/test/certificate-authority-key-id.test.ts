import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../src/index.js';

const run = promisify(execFile);
/** Not the SHA-1 of the key that our library derives: what another tool (Go 1.25's SHA-256 truncation, an HSM) may write. */
const FOREIGN_KEY_ID = '0102030405060708090a0b0c0d0e0f1011121314';

/**
 * A CA certificate made by another tool, with a subject key identifier
 * derived its own way (Helm's genCA, run by Go, does exactly this): what the
 * CA signs names it by that identifier, or TLS stacks find no issuer. Found
 * when the chart's generated PKI met the gateway for real (test/containers).
 */
describe(`${CertificateAuthority.name} loaded from another tool's certificate`, () => {
  let dir: string;
  let ca: CertificateAuthority;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-key-id-'));
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await writeFile(join(dir, 'ca.key'), key);
    await run('openssl', [
      'req',
      '-x509',
      '-new',
      '-key',
      join(dir, 'ca.key'),
      '-subj',
      '/CN=Foreign Manufacturer CA',
      '-days',
      '30',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-addext',
      `subjectKeyIdentifier=${FOREIGN_KEY_ID}`,
      // As Go writes a self-signed CA: no authority key identifier (openssl would derive one from the key).
      '-addext',
      'authorityKeyIdentifier=none',
      '-out',
      join(dir, 'ca.crt'),
    ]);
    ca = await CertificateAuthority.load({ certificatePem: await readFile(join(dir, 'ca.crt'), 'utf8'), privateKeyPem: key });
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function openssl(pem: string, ...args: string[]): Promise<string> {
    const file = join(dir, `${Math.random().toString(36).slice(2)}.pem`);
    await writeFile(file, pem);
    return (await run('openssl', [...args, file])).stdout;
  }

  it('names its issuer by that identifier in a device identity, which openssl then verifies', async () => {
    const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
    const idevid = (await ca.issueDeviceIdentity('d'.repeat(64), spki)).toString('pem');
    expect(await openssl(idevid, 'x509', '-noout', '-ext', 'authorityKeyIdentifier', '-in')).toContain('01:02:03:04:05');
    await expect(openssl(idevid, 'verify', '-CAfile', join(dir, 'ca.crt'))).resolves.toMatch(/: OK/);
  });

  it('does the same for an intermediate and a CRL', async () => {
    const intermediate = await ca.issueIntermediate('Tenant CA', 30);
    expect(await openssl(intermediate.certificatePem, 'x509', '-noout', '-ext', 'authorityKeyIdentifier', '-in')).toContain(
      '01:02:03:04:05',
    );
    await expect(openssl(intermediate.certificatePem, 'verify', '-CAfile', join(dir, 'ca.crt'))).resolves.toMatch(/: OK/);
    const crl = await ca.issueCrl([], new Date(), new Date(Date.now() + 3_600_000), 1);
    expect(await openssl(crl, 'crl', '-noout', '-text', '-in')).toMatch(/Authority Key Identifier:\s+(keyid:)?01:02:03:04:05/i);
  });
});
