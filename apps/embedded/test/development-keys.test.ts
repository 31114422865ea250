import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ISSUING_CA_KEY_LABEL, Pkcs11KeyProvider, ROOT_FILES } from '@rampart/trust';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEVELOPMENT_ROOT_DIR,
  DEVELOPMENT_ROOT_PASSPHRASE_FILE,
  PLATFORM_CA_DIR,
  runDevelopmentCeremony,
} from '../src/development-ceremony.js';
import {
  DEVELOPMENT_TOKEN_DIR,
  DEVELOPMENT_TOKEN_PIN_FILE,
  loadOrCreateDevelopmentToken,
  type DevelopmentToken,
} from '../src/development-token.js';

const exec = promisify(execFile);

/** Every file under `dir`, relative, but those under the `skip` folders. */
async function filesUnder(dir: string, skip: readonly string[]): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .filter((f) => !skip.some((s) => f === s || f.startsWith(`${s}/`)));
}

/** The token's view of a private key, by OpenSC (not our own code): its attributes as pkcs11-tool prints them. */
async function privateKeyAttributes(token: DevelopmentToken, label: string): Promise<string> {
  const pin = (await readFile(token.pinFile, 'utf8')).trim();
  const { stdout } = await exec(
    'pkcs11-tool',
    ['--module', token.modulePath, '--token-label', token.tokenLabel, '--login', '--pin', pin, '--list-objects', '--type', 'privkey'],
    { env: { ...process.env, SOFTHSM2_CONF: token.softhsmConf }, encoding: 'utf8' },
  );
  const block = stdout.split(/\n(?=Private Key Object)/).find((b) => b.includes(`label:      ${label}`));
  if (block === undefined) throw new Error(`no private key ${label} in the token:\n${stdout}`);
  return block;
}

/**
 * `rampart up --keys pkcs11`'s development set-up, on Debian's SoftHSM2: a
 * token of the data folder's own, and the CA signing ceremony the platform
 * runs itself the first time (development root in an encrypted file, the
 * issuing CA's key in the token, signed; the root's CRL).
 */
describe('the development token and ceremony of rampart up --keys pkcs11', () => {
  let dataDir: string;
  let token: DevelopmentToken;
  let provider: Pkcs11KeyProvider;
  const open = (t: DevelopmentToken) => Pkcs11KeyProvider.open({ modulePath: t.modulePath, tokenLabel: t.tokenLabel, pinFile: t.pinFile });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'rampart-dev-keys-'));
    token = await loadOrCreateDevelopmentToken(dataDir);
    // SoftHSM reads SOFTHSM2_CONF when the module is initialised: the embedded platform sets it for its own process.
    process.env['SOFTHSM2_CONF'] = token.softhsmConf;
    provider = open(token);
  });
  afterAll(async () => {
    await provider?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('makes a token under the data folder once, with its own SOFTHSM2_CONF and a PIN file only its owner reads', async () => {
    expect(token.created).toBe(true);
    expect(token.tokenDir).toBe(join(dataDir, DEVELOPMENT_TOKEN_DIR, 'tokens'));
    expect((await readdir(token.tokenDir)).length).toBe(1);
    expect((await stat(token.pinFile)).mode & 0o777).toBe(0o600);
    expect((await readFile(token.pinFile, 'utf8')).trim()).toMatch(/^[A-Za-z0-9_-]{24}$/);
    // The user PIN alone: the security officer's PIN (it could reset the user PIN) is used once and kept nowhere.
    expect(await readdir(join(dataDir, 'secrets'))).toEqual([DEVELOPMENT_TOKEN_PIN_FILE]);
    const again = await loadOrCreateDevelopmentToken(dataDir);
    expect(again).toEqual({ ...token, created: false });
    expect((await readdir(token.tokenDir)).length).toBe(1);
    expect((await provider.ready()).ready).toBe(true);
  });

  it("signs the issuing CA for the token's key with the development root: the chain and the root's CRL pass openssl verify -x509_strict -crl_check", async () => {
    const files = await runDevelopmentCeremony({ dataDir, provider, rootCrlUrl: 'http://127.0.0.1:8000/v1/platform/root-crl' });
    expect(files).toEqual({
      issuingCertFile: join(dataDir, PLATFORM_CA_DIR, 'issuing.pem'),
      rootCertFile: join(dataDir, PLATFORM_CA_DIR, 'root.pem'),
      rootCrlFile: join(dataDir, PLATFORM_CA_DIR, 'root.crl'),
      issued: true,
    });
    const verified = await exec(
      'openssl',
      ['verify', '-x509_strict', '-crl_check', '-CAfile', files.rootCertFile, '-CRLfile', files.rootCrlFile, files.issuingCertFile],
      { encoding: 'utf8' },
    );
    expect(verified.stdout.trim()).toBe(`${files.issuingCertFile}: OK`);
    const issuing = new X509Certificate(await readFile(files.issuingCertFile));
    expect(issuing.publicKey.export({ type: 'spki', format: 'pem' })).toBe(
      (await provider.publicKey(ISSUING_CA_KEY_LABEL)).export({ type: 'spki', format: 'pem' }),
    );
    const text = (await exec('openssl', ['x509', '-in', files.issuingCertFile, '-noout', '-text'], { encoding: 'utf8' })).stdout;
    expect(text).toMatch(/CA:TRUE, pathlen:1/);
    expect(text).toContain('URI:http://127.0.0.1:8000/v1/platform/root-crl');
    expect(new X509Certificate(await readFile(files.rootCertFile)).subject).toContain('DEVELOPMENT');
  });

  it('keeps the issuing key in the token, sensitive and never extractable, read back by pkcs11-tool', async () => {
    const attributes = await privateKeyAttributes(token, ISSUING_CA_KEY_LABEL);
    expect(attributes).toMatch(/Access:\s+sensitive, always sensitive, never extractable, local/);
  });

  it('leaves no private key in the clear under the data folder: only the development root, encrypted, under its own name', async () => {
    const rootKey = await readFile(join(dataDir, DEVELOPMENT_ROOT_DIR, ROOT_FILES.encryptedKey), 'utf8');
    expect(rootKey).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    expect((await stat(join(dataDir, 'secrets', DEVELOPMENT_ROOT_PASSPHRASE_FILE))).mode & 0o777).toBe(0o600);
    const files = await filesUnder(dataDir, [DEVELOPMENT_TOKEN_DIR]);
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const content = await readFile(join(dataDir, file), 'latin1');
      if (file === join(DEVELOPMENT_ROOT_DIR, ROOT_FILES.encryptedKey)) continue;
      expect(content, file).not.toMatch(/PRIVATE KEY-----/);
    }
  });

  it('keeps the issuing CA on a later start, refreshes the CRL, and signs again for a token made anew', async () => {
    const issuingBefore = await readFile(join(dataDir, PLATFORM_CA_DIR, 'issuing.pem'), 'utf8');
    const crlSigned = async (): Promise<number> => {
      const out = await exec('openssl', ['crl', '-in', join(dataDir, PLATFORM_CA_DIR, 'root.crl'), '-noout', '-lastupdate'], {
        encoding: 'utf8',
      });
      return new Date(out.stdout.trim().replace('lastUpdate=', '')).getTime();
    };
    const crlBefore = await crlSigned();
    const kept = await runDevelopmentCeremony({ dataDir, provider, now: new Date(Date.now() + 3_600_000) });
    expect(kept.issued).toBe(false);
    expect(await readFile(kept.issuingCertFile, 'utf8')).toBe(issuingBefore);
    expect(await crlSigned()).toBeGreaterThanOrEqual(crlBefore + 3_500_000);

    // The token is lost and made again: the certificate on file is for a key that is gone.
    await provider.close();
    await rm(token.tokenDir, { recursive: true });
    const remade = await loadOrCreateDevelopmentToken(dataDir);
    expect(remade.created).toBe(true);
    provider = open(remade);
    const reissued = await runDevelopmentCeremony({ dataDir, provider });
    expect(reissued.issued).toBe(true);
    expect(await readFile(reissued.issuingCertFile, 'utf8')).not.toBe(issuingBefore);
    // Both issued by the one development root, which keeps a copy of each.
    expect(await readdir(join(dataDir, DEVELOPMENT_ROOT_DIR, ROOT_FILES.issued))).toHaveLength(2);
  });
});
