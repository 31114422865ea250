import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manufactureDevice, type ManufacturedDevice } from '@rampart/emulator';
import { BusError, NatsBus, TypedBus } from '@rampart/service-kit';
import {
  TEST_NATS_URL,
  createSoftHsmToken,
  createTestDatabase,
  createTestPki,
  queryDatabase,
  removeBusPrefix,
  uniqueBusPrefix,
  waitFor,
  type SoftHsmToken,
  type TestDatabase,
  type TestPki,
} from '@rampart/testing';
import {
  DirectorySealedKeyStore,
  KeyVault,
  SoftwareKeyProvider,
  createIssuingCsr,
  createOfflineRoot,
  signIssuingCa,
  type CreatedOfflineRoot,
} from '@rampart/trust';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { attestOverBus, issuingCaUnder, pullToken, readinessOf, threeTierEnv } from '../support/hsm-platform.js';
import { type ServiceProcess, startAttestationProcess, startAttestationWithTenant } from '../support/service-process.js';

const TOKEN = 'rampart-platform';
const PIN = '24681357';
const PASSPHRASE = 'offline root passphrase, long enough';
const TENANT = 'fleet';
/** How the readiness probe names the issuing key in every failure. */
const ISSUING_KEY = 'rampart\\/platform\\/issuing-ca';

/**
 * Issue 17, point 3, at start-up: the attestation service in three tiers
 * starts while its token cannot sign (pulled, PIN refused, holding another
 * key than the issuing CA certificate's). It listens, is not ready with the
 * issuing key and the error named, refuses every signature as UNAVAILABLE,
 * and signs once the token is right, without a restart. Real processes,
 * SoftHSM2, PostgreSQL and NATS; the harness is the one hsm-keys.test.ts uses.
 */
describe('the attestation service starting while its token cannot sign (three tiers)', () => {
  let dir: string;
  let softHsm: SoftHsmToken;
  let db: TestDatabase;
  let pki: TestPki;
  let bus: NatsBus;
  let typed: TypedBus;
  const prefix = uniqueBusPrefix('e2e-hsm-start');
  const operatorToken = randomBytes(24).toString('hex');
  let roots: { first: CreatedOfflineRoot; next: CreatedOfflineRoot };
  let tenantToken: string;
  /** The service the running test started: stopped after each test, so the next one starts its own. */
  let service: { process: ServiceProcess; url: string } | undefined;

  const file = async (name: string, text: string, mode = 0o644): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, text, { mode });
    return path;
  };

  function envWith(issuingCertFile: string, pinFile?: string): Record<string, string> {
    return threeTierEnv({
      databaseUrl: db.url,
      prefix,
      pki,
      operatorToken,
      softHsm,
      issuingCertFile,
      rootCertFile: join(dir, 'roots.pem'),
      ...(pinFile === undefined ? {} : { pinFile }),
    });
  }

  async function start(env: Record<string, string>): Promise<{ process: ServiceProcess; url: string }> {
    service = await startAttestationProcess('attestation', env);
    return service;
  }

  function request(method: string, path: string, token: string, body?: unknown): Promise<Response> {
    return fetch(`${service!.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  async function claimedDevice(): Promise<ManufacturedDevice> {
    const device = await manufactureDevice(pki.manufacturerCa);
    const claimed = await request('PUT', `/v1/devices/${device.security.deviceId}/claim`, tenantToken);
    expect(claimed.status).toBeLessThan(300);
    return device;
  }

  /** The attestation's bus error; fails the test if a certificate came back. */
  async function refusal(device: ManufacturedDevice): Promise<unknown> {
    return attestOverBus(typed, device).then(
      (reply) => {
        throw new Error(`attestation answered ${JSON.stringify(reply).slice(0, 200)}, not refused`);
      },
      (error: unknown) => error,
    );
  }

  async function keysCheck(): Promise<{ status: number; error: string | undefined }> {
    const { status, body } = await readinessOf(service!.url);
    return { status, error: body.checks['keys']?.error };
  }

  const issuedCount = async () =>
    Number((await queryDatabase<{ n: string }>(db.url, 'SELECT count(*) AS n FROM attestation.issued_certificates'))[0]!.n);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-hsm-start-e2e-'));
    softHsm = await createSoftHsmToken(dir, TOKEN, PIN);
    Object.assign(process.env, softHsm.env);
    roots = {
      first: await createOfflineRoot({ commonName: 'Rampart Root 2026', keys: { kind: 'encrypted-file', passphrase: PASSPHRASE } }),
      next: await createOfflineRoot({ commonName: 'Rampart Root 2027', keys: { kind: 'encrypted-file', passphrase: PASSPHRASE } }),
    };
    await file('roots.pem', roots.first.certificatePem + roots.next.certificatePem);
    db = await createTestDatabase();
    pki = await createTestPki();
    bus = await NatsBus.connect({ url: TEST_NATS_URL, prefix, name: 'hsm-start-test', onError: () => undefined });
    typed = new TypedBus(bus);
    // The fleet as it stands before these starts: a tenant whose CA the first ceremony's issuing CA signed.
    const first = await startAttestationWithTenant(
      envWith(await file('issuing.pem', await issuingCaUnder(softHsm, roots.first))),
      operatorToken,
      TENANT,
    );
    tenantToken = first.tenantToken;
    await first.process.stop();
  });

  afterEach(async () => {
    await service?.process.stop();
    service = undefined;
  });

  afterAll(async () => {
    await service?.process.stop();
    await bus?.drain();
    await removeBusPrefix(prefix);
    await db?.drop();
    await pki?.remove();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts with the token pulled: listening, not ready naming the issuing key and TokenUnavailableError, every signature refused UNAVAILABLE; token back: the rotation it put off runs and a device attests', async () => {
    // A new ceremony while the platform was down (the same key under the next root), then a start with the token away.
    const nextIssuingPem = await issuingCaUnder(softHsm, roots.next);
    const putBack = await pullToken(softHsm, join(dir, 'pulled'));
    let device: ManufacturedDevice;
    try {
      const { process: running } = await start(envWith(await file('issuing-next.pem', nextIssuingPem)));
      const { status, error } = await keysCheck();
      expect(status).toBe(503);
      expect(error).toMatch(new RegExp(`^TokenUnavailableError: token "${TOKEN}" is unavailable for key ${ISSUING_KEY}: .*token absent`));
      expect(running.lines.find((l) => l.msg === 'the issuing CA key cannot sign yet: starting not ready')).toBeDefined();
      // The tenant CA under the former issuing CA is due for replacement, which needs the token: put off, not a failed start.
      expect(running.lines.find((l) => l.msg === 'CA rotation deferred until the CA can sign')).toBeDefined();

      const tenant = await request('POST', '/v1/tenants', operatorToken, { id: 'fleet-late', name: 'fleet-late' });
      expect(tenant.status).toBe(503);
      const tenantAnswer = JSON.stringify(await tenant.json());
      expect(JSON.parse(tenantAnswer)).toEqual({ code: 'UNAVAILABLE', message: 'signing key unavailable; retry later' });
      for (const internal of ['rampart-platform', 'rampart/platform', 'TokenUnavailableError'])
        expect(tenantAnswer).not.toContain(internal);
      device = await claimedDevice();
      const before = await issuedCount();
      const refused = await refusal(device);
      expect(refused).toBeInstanceOf(BusError);
      expect(refused).toMatchObject({ code: 'UNAVAILABLE', message: 'signing key unavailable; retry later' });
      expect(await issuedCount()).toBe(before);
    } finally {
      await putBack();
    }

    await waitFor(async () => (await keysCheck()).status === 200, { timeoutMs: 10_000, describe: 'ready once the token is back' });
    await service!.process.waitForLog((l) => l.msg === 'tenant CA rotation', 10_000);
    const reply = await attestOverBus(typed, device);
    if (!reply.pass) throw new Error('the device was refused once the token was back');
    // Its chain is the new ceremony's: a tenant CA made after the token came back, under the issuing CA the next root signed.
    const [tenantCaPem, issuingPem] = reply.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g)!;
    expect(new X509Certificate(issuingPem!).checkIssued(new X509Certificate(roots.next.certificatePem))).toBe(true);
    expect(new X509Certificate(tenantCaPem).checkIssued(new X509Certificate(issuingPem!))).toBe(true);
    expect((await request('POST', '/v1/tenants', operatorToken, { id: 'fleet-late', name: 'fleet-late' })).status).toBe(201);
  });

  it('starts with a PIN the token refuses: not ready with TokenLoginError and the PIN not tried again; the PIN file fixed: ready without a restart', async () => {
    const pinFile = await file('pin-mounted', 'not-the-pin\n', 0o600);
    await start(envWith(join(dir, 'issuing-next.pem'), pinFile));
    const refusedPin = await keysCheck();
    expect(refusedPin.status).toBe(503);
    expect(refusedPin.error).toMatch(new RegExp(`^TokenLoginError: cannot log in to token "${TOKEN}" for key ${ISSUING_KEY}: `));
    // Once the reconnect interval has passed the provider asks again, and refuses to offer the token the same PIN.
    await waitFor(async () => /not trying it again until that file changes/.test((await keysCheck()).error ?? ''), {
      timeoutMs: 10_000,
      describe: 'the refused PIN held back',
    });
    const device = await claimedDevice();
    // The device reads fixed words; the service's log names the error and the key.
    expect(await refusal(device)).toMatchObject({ code: 'UNAVAILABLE', message: 'signing key unavailable; retry later' });
    await service!.process.waitForLog(
      (l) => l.msg === 'attestation refused: the CA cannot sign' && l['error'] === 'TokenLoginError',
      10_000,
    );

    await writeFile(pinFile, `${PIN}\n`);
    await waitFor(async () => (await keysCheck()).status === 200, { timeoutMs: 10_000, describe: 'ready once the PIN file is fixed' });
    expect((await attestOverBus(typed, device)).pass).toBe(true);
  });

  it('does not start, token or no token, on files that are wrong without it: an issuing CA none of the roots signed (IssuingCaChainError)', async () => {
    const stranger = await createOfflineRoot({ commonName: 'Not Our Root', keys: { kind: 'encrypted-file', passphrase: PASSPHRASE } });
    const strayIssuing = await file('issuing-stray.pem', await issuingCaUnder(softHsm, stranger));
    const putBack = await pullToken(softHsm, join(dir, 'pulled'));
    try {
      await expect(start(envWith(strayIssuing))).rejects.toThrow(/exited with 1:[\s\S]*IssuingCaChainError: the issuing CA does not chain/);
    } finally {
      await putBack();
    }
  });

  it('starts with a token holding another issuing key than the certificate names: not ready with IssuingCaKeyError and never signs', async () => {
    // An issuing CA certificate for a key that is not in this token (another ceremony's CSR), under a trusted root.
    const elsewhere = new SoftwareKeyProvider(new KeyVault(randomBytes(32)), new DirectorySealedKeyStore(join(dir, 'elsewhere')));
    let impostorPem: string;
    try {
      impostorPem = await signIssuingCa({ root: roots.next.root, csrPem: (await createIssuingCsr(elsewhere)).csrPem });
    } finally {
      await elsewhere.close();
    }
    const { process: running } = await start(envWith(await file('issuing-impostor.pem', impostorPem)));
    const expected = new RegExp(
      `^IssuingCaKeyError: the issuing CA key ${ISSUING_KEY}: the provider's key is not the issuing CA certificate's key`,
    );
    const { status, error } = await keysCheck();
    expect(status).toBe(503);
    expect(error).toMatch(expected);
    expect(
      running.lines.find((l) => l.msg === 'the token holds another issuing key than the certificate names: not signing'),
    ).toBeDefined();

    const device = await claimedDevice();
    const before = await issuedCount();
    // The device reads fixed words; the service's log names the error and the key.
    expect(await refusal(device)).toMatchObject({ code: 'UNAVAILABLE', message: 'signing key unavailable; retry later' });
    await service!.process.waitForLog(
      (l) => l.msg === 'attestation refused: the CA cannot sign' && l['error'] === 'IssuingCaKeyError',
      10_000,
    );
    const tenant = await request('POST', '/v1/tenants', operatorToken, { id: 'fleet-impostor', name: 'fleet-impostor' });
    expect(tenant.status).toBe(503);
    expect(await issuedCount()).toBe(before);
    // The token answers, so nothing changes by itself: still not ready, for the same reason.
    expect(await keysCheck()).toMatchObject({ status: 503, error: expect.stringMatching(expected) });
  });
});
