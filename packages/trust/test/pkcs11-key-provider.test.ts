import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { mkdtemp, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { SOFTHSM2_MODULE, createSoftHsmToken, readTokenKeyAttributes } from '@rampart/testing';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AttributeTypeAndValue,
  AttributeValue,
  BasicConstraints,
  Extension,
  Extensions,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectPublicKeyInfo,
  TBSCertList,
  TBSCertificate,
  Time,
  Validity,
  Version,
  id_ce_basicConstraints,
  id_ce_keyUsage,
} from '@peculiar/asn1-x509';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  KeyExistsError,
  KeyNotFoundError,
  Pkcs11KeyProvider,
  Pkcs11ModuleError,
  TokenLoginError,
  TokenUnavailableError,
  derToPem,
  keyLabel,
  signCertificate,
  signCrl,
  signatureAlgorithmFor,
  type KeyHandle,
  type KeyProvider,
} from '../src/index.js';
import { loadPkcs11Binding, returnValueOf } from '../src/keys/pkcs11/pkcs11-binding.js';

const run = promisify(execFile);
const TOKEN = 'rampart-test';
const PIN = '246810';

/** A private key's attributes, read back by another process with its own PKCS#11 session (the provider is not asked). */
function tokenAttributes(label: string) {
  // The token's configuration is in this process's environment (beforeAll put it there).
  return readTokenKeyAttributes({ label: TOKEN, pin: PIN, env: { SOFTHSM2_CONF: process.env['SOFTHSM2_CONF']! } }, label);
}

/** Counts the token's objects (any class) under a label, from another process with its own session. */
const OBJECT_COUNTER = `
const [bindingPath, modulePath, token, pin, label] = process.argv.slice(1);
const pkcs11js = require(bindingPath);
const p = new pkcs11js.PKCS11();
p.load(modulePath);
p.C_Initialize();
const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === token);
const session = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
p.C_Login(session, pkcs11js.CKU_USER, pin);
p.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: label }]);
const found = p.C_FindObjects(session, 10);
p.C_FindObjectsFinal(session);
p.C_Finalize();
console.log(found.length);
`;

async function tokenObjects(label: string): Promise<number> {
  const binding = createRequire(import.meta.url).resolve('pkcs11js');
  const { stdout } = await run(process.execPath, ['-e', OBJECT_COUNTER, binding, SOFTHSM2_MODULE, TOKEN, PIN, label]);
  return Number(stdout.trim());
}

/** The TBS of a CA certificate for `publicKeySpki`, issued by `issuer` and signed by `key`'s algorithm. */
function caTbs(key: KeyHandle, subject: string, issuer: string, publicKeySpki: Buffer): TBSCertificate {
  const now = Date.now();
  const extension = (extnID: string, value: unknown) =>
    new Extension({ extnID, critical: true, extnValue: new OctetString(AsnConvert.serialize(value)) });
  return new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array([0x01, ...randomBytes(15)]).buffer,
    signature: signatureAlgorithmFor(key.algorithm),
    issuer: commonName(issuer),
    validity: new Validity({ notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000) }),
    subject: commonName(subject),
    subjectPublicKeyInfo: AsnConvert.parse(publicKeySpki, SubjectPublicKeyInfo),
    extensions: new Extensions([
      extension(id_ce_basicConstraints, new BasicConstraints({ cA: true })),
      extension(id_ce_keyUsage, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature)),
    ]),
  });
}

/** A distinguished name of one common name (X.520 id-at-commonName, 2.5.4.3). */
function commonName(value: string): Name {
  return new Name([
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type: '2.5.4.3', value: new AttributeValue({ utf8String: value }) })]),
  ]);
}

describe(Pkcs11KeyProvider.name, () => {
  let dir: string;
  let tokenDir: string;
  let pinFile: string;
  let provider: KeyProvider & Pkcs11KeyProvider;
  const others: KeyProvider[] = [];

  function openProvider(overrides: Record<string, unknown> = {}): Pkcs11KeyProvider {
    return Pkcs11KeyProvider.open({ modulePath: SOFTHSM2_MODULE, tokenLabel: TOKEN, pinFile, reconnectIntervalMs: 0, ...overrides });
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-pkcs11-'));
    const softHsm = await createSoftHsmToken(dir, TOKEN, PIN);
    ({ tokenDir, pinFile } = softHsm);
    // This process opens the module, and the attribute reader inherits the variable.
    Object.assign(process.env, softHsm.env);
    provider = openProvider();
  });

  afterEach(async () => {
    for (const other of others.splice(0)) await other.close();
  });

  afterAll(async () => {
    await provider.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('generates a P-256 key inside the token: private, sensitive, never extractable, its value unreadable', async () => {
    const label = keyLabel({ tenant: 'acme' }, 'ca');
    const key = await provider.generate(label, 'ecdsa-p256');
    expect(key).toEqual({ label, algorithm: 'ecdsa-p256' });
    const attributes = await tokenAttributes(label);
    expect(attributes).toMatchObject({
      CKA_TOKEN: true,
      CKA_PRIVATE: true,
      CKA_SENSITIVE: true,
      CKA_EXTRACTABLE: false,
      CKA_ALWAYS_SENSITIVE: true,
      CKA_NEVER_EXTRACTABLE: true,
      CKA_SIGN: true,
      CKA_DECRYPT: false,
      CKA_UNWRAP: false,
      CKA_DERIVE: false,
      CKA_VALUE: 'CKR_ATTRIBUTE_SENSITIVE',
    });
    expect(attributes?.CKA_ID).toMatch(/^[0-9a-f]{40}$/);
  });

  it('signs with C_Sign in the token, and node:crypto verifies the DER signature with the public key it gives', async () => {
    const key = (await provider.find(keyLabel({ tenant: 'acme' }, 'ca')))!;
    const publicKey = await provider.publicKey(key.label);
    expect(publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    for (let i = 0; i < 50; i++) {
      const data = randomBytes(100);
      const signature = await provider.sign(key, data);
      expect(verify('sha256', data, publicKey, signature)).toBe(true);
    }
    expect(verify('sha256', Buffer.from('other'), publicKey, await provider.sign(key, Buffer.from('data')))).toBe(false);
  });

  it('makes Ed25519 keys where the module has CKM_EDDSA (SoftHSM2 2.6 does), for the online TUF roles', async () => {
    expect(await provider.supports('ed25519')).toBe(true);
    const key = await provider.generate(keyLabel({ tenant: 'acme' }, 'tuf-timestamp'), 'ed25519');
    const data = Buffer.from('{"signed":{"_type":"timestamp"}}');
    const signature = await provider.sign(key, data);
    expect(signature).toHaveLength(64);
    expect(verify(null, data, await provider.publicKey(key.label), signature)).toBe(true);
    expect(await tokenAttributes(key.label)).toMatchObject({
      CKA_SENSITIVE: true,
      CKA_EXTRACTABLE: false,
      CKA_VALUE: 'CKR_ATTRIBUTE_SENSITIVE',
    });
    // Found again by a provider that did not make it (a restarted service): the token answers its private key's
    // CKA_EC_PARAMS as the curve's name, not the OID it was made with.
    const publicKey = await provider.publicKey(key.label);
    await provider.close();
    provider = openProvider();
    expect(await provider.find(key.label)).toEqual({ label: key.label, algorithm: 'ed25519' });
    expect(verify(null, data, publicKey, await provider.sign(key, data))).toBe(true);
  });

  it('refuses to make a second key under a label in use, and finds nothing under an unused one', async () => {
    await expect(provider.generate(keyLabel({ tenant: 'acme' }, 'ca'), 'ecdsa-p256')).rejects.toBeInstanceOf(KeyExistsError);
    expect(await provider.find(keyLabel({ tenant: 'acme' }, 'nothing'))).toBeUndefined();
    const missing = { label: keyLabel({ tenant: 'acme' }, 'nothing'), algorithm: 'ecdsa-p256' } as const;
    await expect(provider.sign(missing, Buffer.from('x'))).rejects.toBeInstanceOf(KeyNotFoundError);
    const readiness = await provider.ready([missing.label]);
    expect(readiness).toMatchObject({ ready: false, error: { name: 'KeyNotFoundError', label: missing.label } });
  });

  it('destroys both halves of a key (C_DestroyObject), and answers false for a label with none', async () => {
    const label = keyLabel({ tenant: 'acme' }, 'ca-orphan');
    await provider.generate(label, 'ecdsa-p256');
    expect(await tokenObjects(label)).toBe(2);
    expect(await provider.destroy(label)).toBe(true);
    expect(await tokenObjects(label)).toBe(0);
    expect(await provider.find(label)).toBeUndefined();
    expect(await provider.destroy(label)).toBe(false);
  });

  it('signs a certificate and a CRL that openssl verifies', async () => {
    const ca = await provider.generate(keyLabel('platform', 'issuing'), 'ecdsa-p256');
    const caSpki = (await provider.publicKey(ca.label)).export({ type: 'spki', format: 'der' });
    const caDer = await signCertificate(provider, ca, caTbs(ca, 'Rampart HSM CA', 'Rampart HSM CA', caSpki));
    const leafKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
    const leafDer = await signCertificate(provider, ca, caTbs(ca, 'Rampart leaf', 'Rampart HSM CA', leafKey));
    const crlDer = await signCrl(
      provider,
      ca,
      new TBSCertList({
        version: Version.v2,
        signature: signatureAlgorithmFor(ca.algorithm),
        issuer: commonName('Rampart HSM CA'),
        thisUpdate: new Time(new Date()),
        nextUpdate: new Time(new Date(Date.now() + 3_600_000)),
      }),
    );
    await writeFile(join(dir, 'ca.pem'), derToPem(caDer));
    await writeFile(join(dir, 'leaf.pem'), derToPem(leafDer));
    await writeFile(join(dir, 'crl.pem'), derToPem(crlDer, 'X509 CRL'));
    const leaf = await run('openssl', ['verify', '-CAfile', join(dir, 'ca.pem'), join(dir, 'leaf.pem')]);
    expect(leaf.stdout).toContain(': OK');
    const crl = await run('openssl', ['crl', '-in', join(dir, 'crl.pem'), '-CAfile', join(dir, 'ca.pem'), '-noout']);
    expect(crl.stderr + crl.stdout).toContain('verify OK');
  });

  it('refuses a wrong PIN by name, and does not try the same PIN again', async () => {
    const wrongPin = join(dir, 'wrong-pin');
    await writeFile(wrongPin, '000000\n');
    await provider.close(); // one provider per module per process: PKCS#11 state is the process's
    const wrong = openProvider({ pinFile: wrongPin });
    others.push(wrong);
    const key = { label: keyLabel({ tenant: 'acme' }, 'ca'), algorithm: 'ecdsa-p256' } as const;
    const signing = wrong.sign(key, Buffer.from('x'));
    await expect(signing).rejects.toBeInstanceOf(TokenLoginError);
    await expect(signing).rejects.toThrow(/CKR_PIN_INCORRECT/);
    const readiness = await wrong.ready();
    expect(readiness.ready).toBe(false);
    expect(!readiness.ready && readiness.reason).toMatch(/refused the PIN in .*wrong-pin; not trying it again/);
    await wrong.close();
    provider = openProvider();
  });

  it('names a module it cannot load, and a token no slot holds', async () => {
    expect(() => openProvider({ modulePath: join(dir, 'no-such-module.so') })).toThrow(Pkcs11ModuleError);
    await provider.close();
    const absent = openProvider({ tokenLabel: 'not-plugged-in' });
    others.push(absent);
    const readiness = await absent.ready();
    expect(readiness).toMatchObject({ ready: false, error: { name: 'TokenUnavailableError' } });
    expect(!readiness.ready && readiness.reason).toMatch(/token "not-plugged-in" is unavailable: no slot holds it/);
    await absent.close();
    provider = openProvider();
  });

  it('rejects signing by name when the token goes mid-run, is not ready, never signs otherwise, and resumes when it returns', async () => {
    const key = (await provider.find(keyLabel({ tenant: 'acme' }, 'ca')))!;
    const publicKey = await provider.publicKey(key.label);
    expect(await provider.ready([key.label])).toEqual({ ready: true });
    // Pull the token: its directory leaves SoftHSM2's token store (as an HSM leaves the bus).
    const [tokenFolder] = await readdir(tokenDir);
    const pulled = join(dir, 'pulled');
    await rename(join(tokenDir, tokenFolder!), pulled);

    const failing = provider.sign(key, Buffer.from('while the token is away'));
    await expect(failing).rejects.toBeInstanceOf(TokenUnavailableError);
    await expect(failing).rejects.toMatchObject({ label: key.label });
    const away = await provider.ready([key.label]);
    expect(away.ready).toBe(false);
    expect(!away.ready && away.error).toBeInstanceOf(TokenUnavailableError);
    await expect(provider.sign(key, Buffer.from('again'))).rejects.toBeInstanceOf(TokenUnavailableError);

    await rename(pulled, join(tokenDir, tokenFolder!));
    expect(await provider.ready([key.label])).toEqual({ ready: true });
    const data = Buffer.from('after the token returned');
    expect(verify('sha256', data, publicKey, await provider.sign(key, data))).toBe(true);
  });

  it('is one token per module in a process: each open is a lease on it until the last close; a lease closed twice is closed once', async () => {
    const key = (await provider.find(keyLabel({ tenant: 'acme' }, 'ca')))!;
    const signs = async (p: Pkcs11KeyProvider, text: string) =>
      verify('sha256', Buffer.from(text), await provider.publicKey(key.label), await p.sign(key, Buffer.from(text)));
    const again = openProvider();
    const third = openProvider();
    expect(await signs(again, 'through a second lease')).toBe(true);
    // The second opener closes twice (a service of the embedded platform stopping, and its shutdown hook): one lease ends.
    await again.close();
    await again.close();
    await expect(again.sign(key, Buffer.from('x'))).rejects.toThrow(/the provider is closed/);
    expect((await again.ready()).ready).toBe(false);
    expect(await signs(provider, 'after the second lease closed twice')).toBe(true);
    await third.close();
    expect(await signs(provider, 'after the third lease closed')).toBe(true);
  });

  it('refuses by name a second open of the module with another token, PIN file, session count or reconnect interval', async () => {
    const otherPin = join(dir, 'other-pin');
    await writeFile(otherPin, `${PIN}\n`);
    const refusals: Array<[Record<string, unknown>, RegExp]> = [
      [{ tokenLabel: 'another-token' }, /already open in this process for token "rampart-test" with other tokenLabel/],
      [{ pinFile: otherPin }, /with other pinFile/],
      [{ sessions: 2 }, /with other sessions \(sessions 4, not 2\)/],
      [{ reconnectIntervalMs: 5_000 }, /with other reconnectIntervalMs/],
    ];
    for (const [overrides, message] of refusals) {
      expect(() => openProvider(overrides)).toThrow(Pkcs11ModuleError);
      expect(() => openProvider(overrides)).toThrow(message);
    }
  });

  it('takes the module by its real path: a symlink to the open module is the same module, shared or refused alike', async () => {
    const link = join(dir, 'linked-softhsm2.so');
    await symlink(SOFTHSM2_MODULE, link);
    expect(() => openProvider({ modulePath: link, tokenLabel: 'another-token' })).toThrow(/already open in this process/);
    const viaLink = openProvider({ modulePath: link });
    others.push(viaLink);
    const key = (await provider.find(keyLabel({ tenant: 'acme' }, 'ca')))!;
    const data = Buffer.from('through the symlink');
    expect(verify('sha256', data, await provider.publicKey(key.label), await viaLink.sign(key, data))).toBe(true);
  });

  it('initialises the module again only after the last close has finalised it: an open during the close signs', async () => {
    const key = (await provider.find(keyLabel({ tenant: 'acme' }, 'ca')))!;
    const publicKey = await provider.publicKey(key.label);
    // Signatures in flight (C_Sign on libuv's threads) keep the closing provider draining its sessions before C_Finalize.
    const inFlight = Array.from({ length: 4 }, (_, i) => provider.sign(key, Buffer.from(`in flight ${i}`)));
    await new Promise((resolve) => setImmediate(resolve));
    const closed = provider.close();
    provider = openProvider();
    const data = Buffer.from('opened while the last one closed');
    const signed = provider.sign(key, data);
    await closed;
    // Those already signing finish; one that had not reached a session is refused as closed, never signed otherwise.
    const settled = await Promise.allSettled(inFlight);
    expect(settled.some((s) => s.status === 'fulfilled')).toBe(true);
    for (const [i, outcome] of settled.entries()) {
      if (outcome.status === 'fulfilled') expect(verify('sha256', Buffer.from(`in flight ${i}`), publicKey, outcome.value)).toBe(true);
      else expect(outcome.reason).toBeInstanceOf(TokenUnavailableError);
    }
    expect(verify('sha256', data, publicKey, await signed)).toBe(true);
    const later = Buffer.from('and later');
    expect(verify('sha256', later, publicKey, await provider.sign(key, later))).toBe(true);
  });

  it('signs P-256 concurrently through its session pool; prints the rate beside node:crypto in this run', async () => {
    const key = (await provider.find(keyLabel({ tenant: 'acme' }, 'ca')))!;
    const publicKey = await provider.publicKey(key.label);
    const count = 2_000;
    const data = Array.from({ length: count }, (_, i) => Buffer.from(`certificate ${i}`));
    let started = performance.now();
    const signatures = await Promise.all(data.map((d) => provider.sign(key, d)));
    const tokenRate = count / ((performance.now() - started) / 1000);
    expect(signatures.every((s, i) => verify('sha256', data[i]!, publicKey, s))).toBe(true);

    const softwareKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    started = performance.now();
    for (const d of data) sign('sha256', d, softwareKey);
    const nodeRate = count / ((performance.now() - started) / 1000);
    console.log(`P-256 signatures/s: SoftHSM2 via PKCS#11 ${tokenRate.toFixed(0)}, node:crypto ${nodeRate.toFixed(0)}`);
  });
});

describe(returnValueOf.name, () => {
  const binding = loadPkcs11Binding(SOFTHSM2_MODULE);

  it("reads the token's answer from a Pkcs11Error's code, and names it from the binding's constants", () => {
    // The message names nothing: the code alone says what the token answered.
    expect(returnValueOf(new binding.Pkcs11Error('refused', binding.CKR_PIN_INCORRECT), binding)).toEqual({
      code: binding.CKR_PIN_INCORRECT,
      name: 'CKR_PIN_INCORRECT',
    });
    expect(returnValueOf(new binding.Pkcs11Error('gone', binding.CKR_DEVICE_REMOVED), binding)?.name).toBe('CKR_DEVICE_REMOVED');
  });

  it('names a vendor-defined value by its number', () => {
    expect(returnValueOf(new binding.Pkcs11Error('vendor', 0x80000123), binding)).toEqual({ code: 0x80000123, name: 'CKR 0x80000123' });
  });

  it("finds none in what is not the token's answer, even when its message names a return value", () => {
    expect(returnValueOf(new Error('CKR_PIN_INCORRECT:160'), binding)).toBeUndefined();
    expect(returnValueOf(new binding.NativeError('Parameter 1 MUST be Buffer'), binding)).toBeUndefined();
    expect(returnValueOf('CKR_PIN_INCORRECT', binding)).toBeUndefined();
  });
});
