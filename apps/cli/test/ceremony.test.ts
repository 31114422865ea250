import { execFile } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOFTHSM2_MODULE, createSoftHsmToken } from '@rampart/testing';
import { runCli } from './support/run-cli.js';

const run = promisify(execFile);
const TOKEN = 'rampart-cli-ceremony';
const PIN = '864209';
const CRL_URL = 'https://pki.example/root.crl';

/** `openssl verify -x509_strict` of `certificate` against the root alone, with the root's CRL when given. */
async function verify(root: string, certificate: string, crl?: string): Promise<{ ok: boolean; out: string }> {
  const revocation = crl === undefined ? [] : ['-crl_check', '-CRLfile', crl];
  try {
    const { stdout } = await run('openssl', ['verify', '-x509_strict', ...revocation, '-CAfile', root, certificate]);
    return { ok: true, out: stdout };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    return { ok: false, out: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe('rampart ceremony, run as an operator runs it', () => {
  let dir: string;
  let env: Record<string, string>;
  const at = (name: string) => join(dir, name);
  const ceremony = async (...args: string[]) => runCli(['ceremony', ...args], env);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-cli-ceremony-'));
    await writeFile(at('passphrase'), 'an offline root passphrase, long enough\n', { mode: 0o600 });
    await writeFile(at('kek'), `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    // The pin file is at('pin'), where the commands below name it.
    env = { HOME: dir, ...(await createSoftHsmToken(dir, TOKEN, PIN)).env };
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('with the root key in a passphrase-encrypted file', () => {
    it('creates the root, signs the issuing CA from the online side’s request, and publishes a CRL that revokes it', async () => {
      const created = await ceremony(
        'root',
        'create',
        '--out',
        at('root'),
        '--common-name',
        'Example Rampart Root',
        '--passphrase-file',
        at('passphrase'),
        '-o',
        'json',
      );
      expect(created.stderr).toBe('');
      expect(created.code).toBe(0);
      expect(JSON.parse(created.stdout)).toMatchObject({ subject: 'CN=Example Rampart Root', key: at('root/root.key.pem') });
      expect((await stat(at('root/root.key.pem'))).mode & 0o777).toBe(0o600);

      const csr = await ceremony('issuing-csr', '--out', at('issuing.csr'), '--key-dir', at('keys'), '--kek-file', at('kek'));
      expect(csr.code).toBe(0);
      expect(csr.stdout).toContain('rampart/platform/issuing-ca (ecdsa-p256, made now, software)');

      const signed = await ceremony(
        'issuing',
        'sign',
        '--root',
        at('root'),
        '--csr',
        at('issuing.csr'),
        '--out',
        at('issuing.pem'),
        '--crl-url',
        CRL_URL,
        '--passphrase-file',
        at('passphrase'),
      );
      expect(signed.stderr).toBe('');
      expect(signed.code).toBe(0);
      const issuing = new X509Certificate(await readFile(at('issuing.pem')));
      expect(signed.stdout).toContain(`sha256    ${issuing.fingerprint256}`);
      expect(await readFile(at(`root/issued/${issuing.serialNumber.toLowerCase()}.pem`), 'utf8')).toBe(issuing.toString());

      const crl = await ceremony('root', 'crl', '--root', at('root'), '--out', at('root.crl'), '--passphrase-file', at('passphrase'));
      expect(crl.code).toBe(0);
      expect(crl.stdout).toContain('revokes nothing');
      expect((await verify(at('root/root.pem'), at('issuing.pem'), at('root.crl'))).out).toMatch(/issuing\.pem: OK/);

      const revoke = await ceremony(
        'root',
        'crl',
        '--root',
        at('root'),
        '--out',
        at('root-2.crl'),
        '--revoke',
        issuing.serialNumber,
        '--passphrase-file',
        at('passphrase'),
      );
      expect(revoke.code).toBe(0);
      const revoked = await verify(at('root/root.pem'), at('issuing.pem'), at('root-2.crl'));
      expect(revoked.ok).toBe(false);
      expect(revoked.out).toMatch(/certificate revoked/);
      // The revocation is kept: the next CRL, signed without --revoke, still lists it.
      expect(
        (await ceremony('root', 'crl', '--root', at('root'), '--out', at('root-3.crl'), '--passphrase-file', at('passphrase'))).code,
      ).toBe(0);
      expect((await verify(at('root/root.pem'), at('issuing.pem'), at('root-3.crl'))).out).toMatch(/certificate revoked/);
    });

    it('refuses a wrong passphrase, an RSA request and a second root in the same directory, saying why', async () => {
      await writeFile(at('wrong'), 'this is not the passphrase\n');
      const wrong = await ceremony('root', 'crl', '--root', at('root'), '--out', at('never.crl'), '--passphrase-file', at('wrong'));
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/root\.key\.pem: the key does not open with this passphrase/);

      await run('openssl', [
        'req',
        '-new',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        at('rsa.key'),
        '-subj',
        '/CN=RSA CA',
        '-out',
        at('rsa.csr'),
      ]);
      const rsa = await ceremony(
        'issuing',
        'sign',
        '--root',
        at('root'),
        '--csr',
        at('rsa.csr'),
        '--out',
        at('rsa.pem'),
        '--passphrase-file',
        at('passphrase'),
      );
      expect(rsa.code).toBe(1);
      expect(rsa.stderr).toMatch(/key is RSA 2048-bit: an issuing CA's key must be ECDSA P-256 or Ed25519/);

      const again = await ceremony(
        'root',
        'create',
        '--out',
        at('root'),
        '--common-name',
        'Another',
        '--passphrase-file',
        at('passphrase'),
      );
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/root\.pem: exists already; a root is never overwritten/);
    });

    it('refuses to revoke a serial the root never issued (a typo would leave the real one trusted)', async () => {
      const typo = await ceremony(
        'root',
        'crl',
        '--root',
        at('root'),
        '--out',
        at('typo.crl'),
        '--revoke',
        '0abc',
        '--passphrase-file',
        at('passphrase'),
      );
      expect(typo.code).toBe(1);
      expect(typo.stderr).toMatch(/this root did not issue serial 0abc; check the serial/);
    });

    it('asks for a way to open the root rather than guessing one', async () => {
      const neither = await ceremony('root', 'crl', '--root', at('root'), '--out', at('never.crl'));
      expect(neither.code).toBe(1);
      expect(neither.stderr).toMatch(/--passphrase-file \(a root in a file\) or --pin-file \(a root in a token\)/);
    });
  });

  describe('with the root key and the issuing key in a PKCS#11 token', () => {
    it('creates the root in the token, signs the token-held issuing CA’s request, and the result verifies', async () => {
      const token = ['--pkcs11-module', SOFTHSM2_MODULE, '--token-label', TOKEN, '--pin-file', at('pin')];
      const created = await ceremony('root', 'create', '--out', at('token-root'), '--common-name', 'Token Root', ...token);
      expect(created.stderr).toBe('');
      expect(created.code).toBe(0);
      expect(JSON.parse(await readFile(at('token-root/root-token.json'), 'utf8'))).toEqual({
        modulePath: SOFTHSM2_MODULE,
        tokenLabel: TOKEN,
        keyLabel: 'rampart/platform/offline-root',
      });

      const csr = await ceremony('issuing-csr', '--out', at('token-issuing.csr'), ...token, '-o', 'json');
      expect(csr.code).toBe(0);
      expect(JSON.parse(csr.stdout)).toMatchObject({ keyLabel: 'rampart/platform/issuing-ca', generated: true, store: 'pkcs11' });

      const signed = await ceremony(
        'issuing',
        'sign',
        '--root',
        at('token-root'),
        '--csr',
        at('token-issuing.csr'),
        '--out',
        at('token-issuing.pem'),
        '--pin-file',
        at('pin'),
      );
      expect(signed.stderr).toBe('');
      expect(signed.code).toBe(0);
      expect((await ceremony('root', 'crl', '--root', at('token-root'), '--out', at('token-root.crl'), '--pin-file', at('pin'))).code).toBe(
        0,
      );
      const checked = await verify(at('token-root/root.pem'), at('token-issuing.pem'), at('token-root.crl'));
      expect(checked.out).toMatch(/token-issuing\.pem: OK/);
    });
  });
});
