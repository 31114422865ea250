import { execFile } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SOFTHSM2_MODULE, createSoftHsmToken } from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CertificateAuthority,
  CsrExtensionError,
  CsrFormatError,
  CsrKeyTypeError,
  CsrSignatureError,
  DirectorySealedKeyStore,
  KeyVault,
  OperationalCertificateIssuer,
  Pkcs11KeyProvider,
  ROOT_FILES,
  RootKeyError,
  SoftwareKeyProvider,
  TENANT_CA_PATH_LENGTH,
  checkIssuingCsr,
  commonNameOnly,
  createIssuingCsr,
  createOfflineRoot,
  derToPem,
  deviceIdFromPublicKey,
  keyLabel,
  openRootDirectory,
  rootCrl,
  signCaCrl,
  signIssuingCa,
  signSubordinateCa,
  writeRootDirectory,
  type KeyProvider,
  type Revocation,
  type SigningCa,
} from '../src/index.js';
import { spkiOf } from '../src/ceremony/offline-root.js';

const run = promisify(execFile);
const TOKEN = 'rampart-ceremony';
const PIN = '135792';
const PASSPHRASE = 'correct horse battery staple, offline';
const ROOT_CRL_URL = 'https://pki.example/root.crl';
const ISSUING_CRL_URL = 'https://pki.example/issuing.crl';
const TENANT_CRL_URL = 'https://pki.example/acme.crl';
const HOUR_MS = 3_600_000;

/** The whole chain one ceremony leads to, as files openssl reads. */
interface ChainFiles {
  readonly root: string;
  /** The issuing and tenant CA certificates: what a device presents besides its own. */
  readonly untrusted: string;
  readonly device: string;
}

describe('the CA signing ceremony: offline root → issuing CA → tenant CA → device', () => {
  let dir: string;
  let software: SoftwareKeyProvider;
  let token: Pkcs11KeyProvider;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-ceremony-'));
    software = new SoftwareKeyProvider(new KeyVault(randomBytes(32)), new DirectorySealedKeyStore(join(dir, 'keys')));
    const softHsm = await createSoftHsmToken(dir, TOKEN, PIN);
    // This process opens the module (openssl's children inherit the variable harmlessly).
    Object.assign(process.env, softHsm.env);
    token = Pkcs11KeyProvider.open({ modulePath: SOFTHSM2_MODULE, tokenLabel: TOKEN, pinFile: softHsm.pinFile, reconnectIntervalMs: 0 });
  });

  afterAll(async () => {
    await token?.close();
    await software?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function file(name: string, text: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }

  async function openssl(...args: string[]): Promise<{ ok: boolean; out: string }> {
    try {
      const { stdout, stderr } = await run('openssl', args);
      return { ok: true, out: stdout + stderr };
    } catch (error) {
      const failed = error as { stdout?: string; stderr?: string };
      return { ok: false, out: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
    }
  }

  /** `openssl verify -x509_strict` of the device certificate up to the root, and with `crls`, every tier's revocation checked. */
  function verifyChain(chain: ChainFiles, crls?: string): Promise<{ ok: boolean; out: string }> {
    const revocation = crls === undefined ? [] : ['-crl_check_all', '-CRLfile', crls];
    return openssl('verify', '-x509_strict', ...revocation, '-CAfile', chain.root, '-untrusted', chain.untrusted, chain.device);
  }

  /**
   * Below an issuing CA whose key is in `provider`: a tenant CA it signs through
   * the provider (pathLen 0), today's OperationalCertificateIssuer with the
   * tenant's key issuing a device certificate, and each CA's CRL: the root's
   * revoking the issuing CA and the issuing CA's the tenant CA when `revoke` says so.
   */
  async function tiersBelow(
    name: string,
    root: SigningCa,
    issuing: SigningCa,
    revoke: { issuingCa?: boolean; tenantCa?: boolean } = {},
  ): Promise<{ chain: ChainFiles; crls: string; tenantPem: string; issuingPem: string }> {
    const tenantKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const tenantPem = await signSubordinateCa(issuing, {
      subject: commonNameOnly('Rampart Tenant acme CA'),
      subjectPublicKeyInfo: spkiOf(tenantKey.publicKey),
      pathLength: TENANT_CA_PATH_LENGTH,
      validityDays: 365,
      tenantId: 'acme',
      crlDistributionPoint: ISSUING_CRL_URL,
    });
    const tenantKeyPem = tenantKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const tenantDer = new X509Certificate(tenantPem).raw;
    const device = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const issuer = new OperationalCertificateIssuer(tenantDer, tenantKeyPem, 'acme', TENANT_CRL_URL);
    const now = Date.now();
    const deviceDer = issuer.issue({
      deviceId: deviceIdFromPublicKey(device),
      tenantId: 'acme',
      subjectPublicKeySpki: device.export({ type: 'spki', format: 'der' }),
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 24 * HOUR_MS),
    });
    const tenantCa = await CertificateAuthority.load({ certificatePem: tenantPem, privateKeyPem: tenantKeyPem });
    const issuingPem = derToPem(issuing.certificate);
    const revokedAt = new Date(now - 60_000);
    const revoked = (pem: string, yes: boolean | undefined): Revocation[] =>
      yes === true ? [{ serial: new X509Certificate(pem).serialNumber, revokedAt }] : [];
    const crls = [
      await rootCrl({ root, revoked: revoked(issuingPem, revoke.issuingCa), nextUpdateDays: 30 }),
      await signCaCrl(issuing, { revoked: revoked(tenantPem, revoke.tenantCa), nextUpdateDays: 7 }),
      await tenantCa.issueCrl([], new Date(now - 60_000), new Date(now + 24 * HOUR_MS), 1),
    ];
    return {
      chain: {
        root: await file(`${name}-root.pem`, derToPem(root.certificate)),
        untrusted: await file(`${name}-untrusted.pem`, issuingPem + tenantPem),
        device: await file(`${name}-device.pem`, derToPem(deviceDer)),
      },
      crls: await file(`${name}-crls.pem`, crls.join('')),
      tenantPem,
      issuingPem,
    };
  }

  async function issuingCaFrom(root: SigningCa, provider: KeyProvider, purpose: string): Promise<SigningCa> {
    const csr = await createIssuingCsr(provider, keyLabel('platform', purpose), 'CN=Rampart Platform Issuing CA, O=Example');
    expect(csr.generated).toBe(true);
    const issuingPem = await signIssuingCa({ root, csrPem: csr.csrPem, validityDays: 1825, crlDistributionPoint: ROOT_CRL_URL });
    return { certificate: new X509Certificate(issuingPem).raw, signer: provider, key: csr.key };
  }

  describe('with the root key in an encrypted file and the issuing key in the software provider', () => {
    let root: SigningCa;
    let issuing: SigningCa;
    let tiers: Awaited<ReturnType<typeof tiersBelow>>;

    beforeAll(async () => {
      root = (await createOfflineRoot({ commonName: 'Rampart Test Root', keys: { kind: 'encrypted-file', passphrase: PASSPHRASE } })).root;
      issuing = await issuingCaFrom(root, software, 'issuing-ca');
      tiers = await tiersBelow('file', root, issuing);
    });

    it('verifies under openssl -x509_strict up to the offline root, and with -crl_check_all and a CRL at every tier', async () => {
      expect((await verifyChain(tiers.chain)).out).toMatch(/file-device\.pem: OK/);
      const checked = await verifyChain(tiers.chain, tiers.crls);
      expect(checked.out).toMatch(/file-device\.pem: OK/);
      expect(checked.ok).toBe(true);
    });

    it('gives each tier its path length, CA key usage only, and AKI = the issuer’s SKI', async () => {
      const text = async (pem: string) => (await openssl('x509', '-in', await file('shown.pem', pem), '-noout', '-text')).out;
      const rootText = await text(derToPem(root.certificate));
      const issuingText = await text(tiers.issuingPem);
      const tenantText = await text(tiers.tenantPem);
      expect(rootText).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:2/);
      expect(issuingText).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:1/);
      expect(tenantText).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
      for (const shown of [rootText, issuingText, tenantText])
        expect(shown).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign\s*\n/);
      const ski = (shown: string) => /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(shown)?.[1];
      const aki = (shown: string) => /Authority Key Identifier:\s+(?:keyid:)?([0-9A-F:]+)/.exec(shown)?.[1];
      expect(ski(rootText)).toMatch(/^[0-9A-F]{2}(:[0-9A-F]{2}){19}$/);
      expect(aki(issuingText)).toBe(ski(rootText));
      expect(aki(tenantText)).toBe(ski(issuingText));
      expect(aki(rootText)).toBe(ski(rootText));
      expect(issuingText).toContain(`URI:${ROOT_CRL_URL}`);
      const issuingCertificate = new X509Certificate(tiers.issuingPem);
      expect(issuingCertificate.subject).toBe('CN=Rampart Platform Issuing CA\nO=Example');
      expect(issuingCertificate.checkIssued(new X509Certificate(root.certificate))).toBe(true);
    });

    it('fails the chain once the root’s CRL revokes the issuing CA, or the issuing CA’s CRL the tenant CA', async () => {
      const byRoot = await tiersBelow('revoked-by-root', root, issuing, { issuingCa: true });
      const issuingRevoked = await verifyChain(byRoot.chain, byRoot.crls);
      expect(issuingRevoked.ok).toBe(false);
      expect(issuingRevoked.out).toMatch(/certificate revoked/);
      const byIssuing = await tiersBelow('revoked-by-issuing', root, issuing, { tenantCa: true });
      const tenantRevoked = await verifyChain(byIssuing.chain, byIssuing.crls);
      expect(tenantRevoked.ok).toBe(false);
      expect(tenantRevoked.out).toMatch(/certificate revoked/);
    });

    it('refuses a CA under it with room for more CAs below, since the root’s path length leaves none', async () => {
      await expect(
        signSubordinateCa(issuing, {
          subject: commonNameOnly('Too deep'),
          subjectPublicKeyInfo: spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey),
          pathLength: 1,
          validityDays: 30,
        }),
      ).rejects.toThrow(/under an issuer with pathLen 1 a CA's pathLen is below 1, not 1/);
    });

    it('refuses a CA that would outlive its issuer', async () => {
      await expect(
        signSubordinateCa(issuing, {
          subject: commonNameOnly('Too long'),
          subjectPublicKeyInfo: spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey),
          pathLength: TENANT_CA_PATH_LENGTH,
          validityDays: 1826,
        }),
      ).rejects.toThrow(/would outlive its issuer/);
    });
  });

  describe('with the root key and the issuing key in a PKCS#11 token (SoftHSM2)', () => {
    it('signs the issuing CA from a CSR the token signed, and the chain verifies with every CRL', async () => {
      const root = (
        await createOfflineRoot({
          commonName: 'Rampart Token Root',
          keys: { kind: 'provider', provider: token, label: keyLabel('platform', 'root-test') },
        })
      ).root;
      const issuing = await issuingCaFrom(root, token, 'issuing-ca');
      const tiers = await tiersBelow('token', root, issuing);
      const checked = await verifyChain(tiers.chain, tiers.crls);
      expect(checked.out).toMatch(/token-device\.pem: OK/);
      expect(checked.ok).toBe(true);
      // The request came from the key in the token: the issuing CA certifies the token's public key.
      expect(new X509Certificate(tiers.issuingPem).publicKey.equals(await token.publicKey(keyLabel('platform', 'issuing-ca')))).toBe(true);
    });

    it('makes an Ed25519 issuing CA where asked, which signs a tenant CA openssl accepts', async () => {
      const root = (await createOfflineRoot({ commonName: 'Rampart Root', keys: { kind: 'encrypted-file', passphrase: PASSPHRASE } })).root;
      const csr = await createIssuingCsr(token, keyLabel('platform', 'issuing-ed'), 'CN=Rampart Ed25519 Issuing CA', 'ed25519');
      expect(checkIssuingCsr(csr.csrPem).algorithm).toBe('ed25519');
      const issuingPem = await signIssuingCa({ root, csrPem: csr.csrPem });
      const tiers = await tiersBelow('ed25519', root, { certificate: new X509Certificate(issuingPem).raw, signer: token, key: csr.key });
      expect((await verifyChain(tiers.chain, tiers.crls)).out).toMatch(/ed25519-device\.pem: OK/);
    });
  });

  describe('the offline side refuses a request it would not grant', () => {
    let root: SigningCa;

    beforeAll(async () => {
      root = (await createOfflineRoot({ commonName: 'Rampart Root', keys: { kind: 'encrypted-file', passphrase: PASSPHRASE } })).root;
    });

    /** A request made by openssl (another tool than ours) with a new key of `keyAlgorithm` and the given `-addext`s. */
    async function opensslCsr(name: string, keyAlgorithm: string[], ...addext: string[]): Promise<string> {
      const out = join(dir, `${name}.csr`);
      await run('openssl', [
        'req',
        '-new',
        '-newkey',
        ...keyAlgorithm,
        '-nodes',
        '-keyout',
        join(dir, `${name}.key`),
        '-subj',
        '/CN=Someone Else CA',
        ...addext.flatMap((e) => ['-addext', e]),
        '-out',
        out,
      ]);
      return readFile(out, 'utf8');
    }
    const P256 = ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];

    it('accepts an openssl-made P-256 request that asks for exactly an issuing CA', async () => {
      const csrPem = await opensslCsr('good', P256, 'basicConstraints=critical,CA:TRUE,pathlen:1', 'keyUsage=critical,keyCertSign,cRLSign');
      const issuingPem = await signIssuingCa({ root, csrPem });
      expect(new X509Certificate(issuingPem).subject).toBe('CN=Someone Else CA');
    });

    it('refuses a request whose signature is broken (CsrSignatureError)', async () => {
      const { csrPem } = await createIssuingCsr(software, keyLabel('platform', 'issuing-broken'), 'CN=Rampart Platform Issuing CA');
      const der = Buffer.from(csrPem.replace(/-----[A-Z ]+-----/g, ''), 'base64');
      // The subject's text, inside what was signed: the signature no longer matches.
      const at = der.indexOf(Buffer.from('Rampart Platform Issuing CA'));
      der[at] = 'X'.charCodeAt(0);
      const tampered = derToPem(der, 'CERTIFICATE REQUEST');
      expect(() => checkIssuingCsr(tampered)).toThrow(CsrSignatureError);
      await expect(signIssuingCa({ root, csrPem: tampered })).rejects.toThrow(/signature is refused: it does not verify/);
    });

    it('refuses an RSA key (CsrKeyTypeError), and a P-384 one', async () => {
      const rsa = await opensslCsr('rsa', ['rsa:2048'], 'basicConstraints=critical,CA:TRUE,pathlen:1');
      expect(() => checkIssuingCsr(rsa)).toThrow(CsrKeyTypeError);
      expect(() => checkIssuingCsr(rsa)).toThrow(/key is RSA 2048-bit: an issuing CA's key must be ECDSA P-256 or Ed25519/);
      const p384 = await opensslCsr('p384', ['ec', '-pkeyopt', 'ec_paramgen_curve:P-384']);
      expect(() => checkIssuingCsr(p384)).toThrow(/EC on curve secp384r1/);
    });

    it('refuses a request asking for pathLen 5, for no path length limit, or for a SAN (CsrExtensionError)', async () => {
      const deep = await opensslCsr('pathlen5', P256, 'basicConstraints=critical,CA:TRUE,pathlen:5');
      expect(() => checkIssuingCsr(deep)).toThrow(CsrExtensionError);
      expect(() => checkIssuingCsr(deep)).toThrow(/basicConstraints asks for a CA with pathLen 5; an issuing CA gets pathLen 1/);
      await expect(signIssuingCa({ root, csrPem: deep })).rejects.toMatchObject({ name: 'CsrExtensionError', oid: '2.5.29.19' });
      const unlimited = await opensslCsr('unlimited', P256, 'basicConstraints=critical,CA:TRUE');
      expect(() => checkIssuingCsr(unlimited)).toThrow(/a CA with no path length limit/);
      const san = await opensslCsr('san', P256, 'subjectAltName=DNS:issuing.example');
      expect(() => checkIssuingCsr(san)).toThrow(/extension subjectAltName \(2\.5\.29\.17\) is not granted/);
      const signing = await opensslCsr('usage', P256, 'keyUsage=critical,keyCertSign,digitalSignature');
      expect(() => checkIssuingCsr(signing)).toThrow(/keyUsage asks for digitalSignature, keyCertSign/);
    });

    it('refuses what is not one request (CsrFormatError)', () => {
      expect(() => checkIssuingCsr(derToPem(root.certificate))).toThrow(CsrFormatError);
      expect(() => checkIssuingCsr('not pem at all')).toThrow(CsrFormatError);
    });
  });

  describe('the root key file', () => {
    let rootDir: string;

    beforeAll(async () => {
      rootDir = join(dir, 'root-dir');
      await writeRootDirectory(
        rootDir,
        await createOfflineRoot({ commonName: 'Rampart File Root', keys: { kind: 'encrypted-file', passphrase: PASSPHRASE } }),
      );
    });

    it('is an encrypted PKCS#8 PEM, mode 0600, that opens only with the passphrase', async () => {
      const keyFile = join(rootDir, ROOT_FILES.encryptedKey);
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
      const pem = await readFile(keyFile, 'utf8');
      expect(pem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
      expect(() => createPrivateKey(pem)).toThrow();
      expect(() => createPrivateKey({ key: pem, passphrase: 'not the passphrase at all' })).toThrow();
      expect((await openssl('pkey', '-in', keyFile, '-passin', 'pass:wrong passphrase here', '-noout')).ok).toBe(false);
      // The right passphrase opens it, with openssl too (another tool can recover the root).
      expect((await openssl('pkey', '-in', keyFile, '-passin', `pass:${PASSPHRASE}`, '-noout')).ok).toBe(true);
    });

    it('opens for a ceremony with the passphrase file, and refuses a wrong or short passphrase by name', async () => {
      const good = await file('passphrase', `${PASSPHRASE}\n`);
      const opened = await openRootDirectory(rootDir, { passphraseFile: good });
      expect((await rootCrl({ root: opened.root, revoked: [], nextUpdateDays: 1 })).startsWith('-----BEGIN X509 CRL-----')).toBe(true);
      const wrong = await file('wrong-passphrase', 'a long but wrong passphrase\n');
      await expect(openRootDirectory(rootDir, { passphraseFile: wrong })).rejects.toThrow(RootKeyError);
      await expect(openRootDirectory(rootDir, { passphraseFile: wrong })).rejects.toThrow(/does not open with this passphrase/);
      await expect(openRootDirectory(rootDir, { passphraseFile: await file('short', 'short\n') })).rejects.toThrow(
        /at least 12 characters/,
      );
    });

    it('is never overwritten by a second root', async () => {
      const second = await createOfflineRoot({ commonName: 'Second', keys: { kind: 'encrypted-file', passphrase: PASSPHRASE } });
      await expect(writeRootDirectory(rootDir, second)).rejects.toThrow(/exists already; a root is never overwritten/);
    });
  });
});
