import { execFile } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { manufactureDevice, runFleet, type ManufacturedDevice } from '@rampart/emulator';
import { BusError, NatsBus, TypedBus } from '@rampart/service-kit';
import {
  TEST_NATS_URL,
  createSoftHsmToken,
  readTokenKeys,
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
import { ISSUING_CA_KEY_LABEL, createOfflineRoot, rootCrl, type CreatedOfflineRoot } from '@rampart/trust';
import mqtt, { type IClientOptions } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PlatformCall,
  type ServiceProcess,
  startAttestationProcess,
  startAttestationWithTenant,
  startGatewayProcess,
  gatewayTlsEnv,
} from '../support/service-process.js';
import { HSM_PUBLIC_BASE_URL, attestOverBus, issuingCaUnder, pullToken, readinessOf, threeTierEnv } from '../support/hsm-platform.js';

const run = promisify(execFile);
const TOKEN = 'rampart-platform';
const PIN = '97531864';
const PASSPHRASE = 'offline root passphrase, long enough';
const PUBLIC_BASE_URL = HSM_PUBLIC_BASE_URL;
const TENANT = 'fleet';

/**
 * Three tiers with every CA key in a PKCS#11 token (SoftHSM2), over real
 * processes, NATS and PostgreSQL: an offline root made by the ceremony
 * functions (encrypted file), the platform issuing CA signed from a CSR the
 * token made, the attestation service signing tenant CAs, device
 * certificates and CRLs in the token, and the gateway trusting the roots.
 */
describe('attestation with its CA keys in a PKCS#11 token (three tiers)', () => {
  let dir: string;
  let softHsm: SoftHsmToken;
  let db: TestDatabase;
  let pki: TestPki;
  let bus: NatsBus;
  let typed: TypedBus;
  const prefix = uniqueBusPrefix('e2e-hsm');
  const operatorToken = randomBytes(24).toString('hex');
  let roots: { old: CreatedOfflineRoot; next: CreatedOfflineRoot };
  let attestation: { process: ServiceProcess; url: string; call: PlatformCall; tenantToken: string };
  let gateway: Awaited<ReturnType<typeof startGatewayProcess>>;
  const file = async (name: string, text: string): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };

  /** The service on `issuingPem`; the first start makes the tenant, a restart (same database) keeps it. */
  async function startAttestation(issuingPem: string): Promise<typeof attestation> {
    const env = threeTierEnv({
      databaseUrl: db.url,
      prefix,
      pki,
      operatorToken,
      softHsm,
      issuingCertFile: await file('issuing.pem', issuingPem),
      // Both roots, as during a root rotation: the old one's certificates live on for one device-certificate lifetime.
      rootCertFile: join(dir, 'roots.pem'),
      rootCrlFile: await file('root.crl', await rootCrl({ root: roots.old.root, revoked: [], nextUpdateDays: 30 })),
    });
    if (attestation === undefined) return startAttestationWithTenant(env, operatorToken, TENANT);
    const { process, url } = await startAttestationProcess('attestation', env);
    const call: PlatformCall = async (method, path, token, body) => {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      expect(response.status, `${method} ${path}`).toBeLessThan(300);
      return response.status === 204 ? undefined : ((await response.json()) as Record<string, string>);
    };
    return { process, url, call, tenantToken: attestation.tenantToken };
  }

  const attest = (device: ManufacturedDevice) => attestOverBus(typed, device);

  async function claimedDevice(): Promise<ManufacturedDevice> {
    const device = await manufactureDevice(pki.manufacturerCa);
    await attestation.call('PUT', `/v1/devices/${device.security.deviceId}/claim`, attestation.tenantToken);
    return device;
  }

  /** Connects over MQTT/TLS with an operational certificate and its chain; resolves once the gateway accepts it (CONNACK 0). */
  function connectsWith(device: ManufacturedDevice, certificateAndChainPem: string): Promise<void> {
    const client = mqtt.connect({
      protocol: 'mqtts',
      host: '127.0.0.1',
      port: gateway.mqttPort,
      protocolVersion: 4,
      clientId: device.security.deviceId,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      servername: 'localhost',
      secureContext: device.security.tlsContext(certificateAndChainPem, pki.platformCa.certificatePem),
    } as IClientOptions);
    return new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
      client.once('close', () => reject(new Error('closed before CONNACK')));
    }).finally(() => client.end(true));
  }

  const readiness = () => readinessOf(attestation.url);

  async function openssl(...args: string[]): Promise<{ ok: boolean; out: string }> {
    try {
      const { stdout, stderr } = await run('openssl', args);
      return { ok: true, out: stdout + stderr };
    } catch (error) {
      const failed = error as { stdout?: string; stderr?: string };
      return { ok: false, out: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-hsm-e2e-'));
    softHsm = await createSoftHsmToken(dir, TOKEN, PIN);
    // This process opens the module for the ceremony's online step; the service processes get the variable in their env.
    Object.assign(process.env, softHsm.env);
    roots = {
      old: await createOfflineRoot({ commonName: 'Rampart Root 2026', keys: { kind: 'encrypted-file', passphrase: PASSPHRASE } }),
      next: await createOfflineRoot({ commonName: 'Rampart Root 2027', keys: { kind: 'encrypted-file', passphrase: PASSPHRASE } }),
    };
    await file('roots.pem', roots.old.certificatePem + roots.next.certificatePem);
    db = await createTestDatabase();
    pki = await createTestPki();
    bus = await NatsBus.connect({ url: TEST_NATS_URL, prefix, name: 'hsm-keys-test', onError: () => undefined });
    typed = new TypedBus(bus);
    attestation = await startAttestation(await issuingCaUnder(softHsm, roots.old));
    gateway = await startGatewayProcess('gateway', {
      NATS_URL: TEST_NATS_URL,
      BUS_PREFIX: prefix,
      ...gatewayTlsEnv(pki),
      // The gateway trusts the offline roots; devices send their tenant CA and the issuing CA above it.
      PLATFORM_CA_FILE: join(dir, 'roots.pem'),
    });
  });

  afterAll(async () => {
    await Promise.all([attestation?.process.stop(), gateway?.process.stop()]);
    await bus?.drain();
    await removeBusPrefix(prefix);
    await db?.drop();
    await pki?.remove();
    await rm(dir, { recursive: true, force: true });
  });

  it('lets an emulated device attest and connect end to end; its chain verifies up to the offline root with every CRL checked', async () => {
    const report = await runFleet({
      devices: 1,
      ratePerDevice: 5,
      durationMs: 1_500,
      metricsPerReading: 1,
      endpoint: { kind: 'tls', host: '127.0.0.1', port: gateway.mqttPort, servername: 'localhost' },
      manufacturerCa: pki.manufacturerCa,
      gatewayCaPem: pki.platformCa.certificatePem,
      beforeStart: async (devices) => {
        for (const device of devices)
          await attestation.call('PUT', `/v1/devices/${device.security.deviceId}/claim`, attestation.tenantToken);
      },
    });
    expect(report.devicesAttested).toBe(1);
    expect(report.attestationFailures).toBe(0);
    // Telemetry acknowledged: the device connected on its operational certificate, which only the token's keys signed.
    expect(report.acknowledged).toBeGreaterThan(0);
    const sample = report.sampleCertificate!;
    const [tenantCaPem, issuingPem] = sample.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g)!;
    expect(new X509Certificate(issuingPem!).subject).toBe('CN=Rampart Platform Issuing CA');
    expect(new X509Certificate(tenantCaPem).subjectAltName).toBe(`URI:urn:rampart:tenant:${TENANT}`);

    // The CRLs as relying parties fetch them: the root's (the ceremony's file, served), the issuing CA's and the tenant CA's.
    const served = async (path: string) => {
      const response = await fetch(`${attestation.url}${path}`);
      expect(response.status, path).toBe(200);
      return response.text();
    };
    const crls = await file(
      'crls.pem',
      (await served('/v1/platform/root-crl')) + (await served('/v1/platform/crl')) + (await served(`/v1/tenants/${TENANT}/crl`)),
    );
    const verified = await openssl(
      'verify',
      '-x509_strict',
      '-purpose',
      'sslclient',
      '-crl_check_all',
      '-CRLfile',
      crls,
      '-CAfile',
      await file('root.pem', roots.old.certificatePem),
      '-untrusted',
      await file('chain.pem', sample.chainPem),
      await file('device.pem', sample.certificatePem),
    );
    expect(verified.out).toMatch(/device\.pem: OK/);
    expect(verified.ok).toBe(true);
    const issuingText = (await openssl('x509', '-in', await file('shown.pem', issuingPem!), '-noout', '-text')).out;
    expect(issuingText).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:1/);
    const tenantText = (await openssl('x509', '-in', await file('shown.pem', tenantCaPem), '-noout', '-text')).out;
    expect(tenantText).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(tenantText).toContain(`URI:${PUBLIC_BASE_URL}/v1/platform/crl`);
  });

  it('keeps every private key it made in the token (private, sensitive, never extractable): no key bytes in tenant_cas or its logs', async () => {
    // Every private key on the token, read by another process in its own session, as an HSM auditor would.
    const keys = await readTokenKeys(softHsm);
    const rows = await queryDatabase<{ key_label: string | null; encrypted_key: Buffer | null }>(
      db.url,
      'SELECT key_label, encrypted_key FROM attestation.tenant_cas',
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.encrypted_key === null && r.key_label !== null)).toBe(true);
    const labels = keys.map((k) => k.label);
    expect(labels).toContain(ISSUING_CA_KEY_LABEL);
    for (const row of rows) expect(labels).toContain(row.key_label);
    for (const key of keys) {
      expect(key, key.label).toMatchObject({ CKA_PRIVATE: true, CKA_SENSITIVE: true, CKA_EXTRACTABLE: false, CKA_NEVER_EXTRACTABLE: true });
    }
    // Nor any key in what the service wrote: its logs hold no PEM private key and no sealed key column was used.
    const written = JSON.stringify(attestation.process.lines) + attestation.process.stderr.join('\n');
    expect(written).not.toMatch(/PRIVATE KEY/);
  });

  it('when the token is pulled: not ready, naming the error; an attestation is refused UNAVAILABLE with nothing issued; back: it signs again', async () => {
    const device = await claimedDevice();
    const issuedCount = async () =>
      Number((await queryDatabase<{ n: string }>(db.url, 'SELECT count(*) AS n FROM attestation.issued_certificates'))[0]!.n);
    const putBack = await pullToken(softHsm, join(dir, 'pulled'));
    try {
      await waitFor(async () => (await readiness()).status === 503, { timeoutMs: 10_000, describe: 'readiness false' });
      const { body } = await readiness();
      expect(body.checks['keys']).toMatchObject({
        ok: false,
        error: expect.stringMatching(
          /^TokenUnavailableError: token "rampart-platform" is unavailable for key rampart\/platform\/issuing-ca/,
        ),
      });
      const before = await issuedCount();
      const refused = await attest(device).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(BusError);
      // Fixed words: which key and token (and why) are in the service's log and the audit, not sent to the device.
      expect(refused).toMatchObject({ code: 'UNAVAILABLE', message: 'signing key unavailable; retry later' });
      expect(await issuedCount()).toBe(before);
      const audited = await queryDatabase<{ detail: { error: string } }>(
        db.url,
        `SELECT detail FROM attestation.audit_log WHERE action = 'attestation.unavailable' AND subject = $1`,
        [device.security.deviceId],
      );
      expect(audited).toEqual([{ detail: expect.objectContaining({ reason: 'SIGNING_UNAVAILABLE', error: 'TokenUnavailableError' }) }]);
      const metrics = await (await fetch(`${attestation.url}/metrics`)).text();
      expect(metrics).toMatch(/rampart_ca_signing_failures_total\{[^}]*error="TokenUnavailableError"[^}]*\} [1-9]/);
    } finally {
      await putBack();
    }
    await waitFor(async () => (await readiness()).status === 200, { timeoutMs: 10_000, describe: 'readiness back' });
    const reply = await attest(device);
    expect(reply.pass).toBe(true);
    const metrics = await (await fetch(`${attestation.url}/metrics`)).text();
    expect(metrics).toMatch(/rampart_ca_signatures_total\{[^}]*purpose="tenant-ca"[^}]*provider="pkcs11"[^}]*\} [1-9]/);
  });

  it('after a new ceremony under the next root, a device certified under the old issuing CA still connects and a new one gets the new chain', async () => {
    const before = await claimedDevice();
    const old = await attest(before);
    if (!old.pass) throw new Error('the first device was refused');
    await connectsWith(before, old.certificatePem + old.chainPem);

    // The ceremony: the same issuing key, re-certified by the next root; the service restarts on the new issuing.pem.
    const nextIssuingPem = await issuingCaUnder(softHsm, roots.next);
    await attestation.process.stop();
    attestation = await startAttestation(nextIssuingPem);

    const after = await claimedDevice();
    const fresh = await attest(after);
    if (!fresh.pass) throw new Error('the new device was refused');
    const [, newIssuing] = fresh.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g)!;
    expect(new X509Certificate(newIssuing!).checkIssued(new X509Certificate(roots.next.certificatePem))).toBe(true);
    // The tenant CA under the old issuing CA was replaced at start-up, not in 30 days.
    expect(new X509Certificate(fresh.chainPem).fingerprint256).not.toBe(new X509Certificate(old.chainPem).fingerprint256);

    await connectsWith(after, fresh.certificatePem + fresh.chainPem);
    await connectsWith(before, old.certificatePem + old.chainPem);

    // Relying parties trust both tenant CAs, both issuing CAs and both roots while the old certificates live.
    const bundle = await (await fetch(`${attestation.url}/v1/tenants/${TENANT}/trust-bundle`)).text();
    const inBundle = (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
      (pem) => new X509Certificate(pem).fingerprint256,
    );
    for (const pem of [old.chainPem, fresh.chainPem, roots.old.certificatePem, roots.next.certificatePem]) {
      for (const certificate of pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!) {
        expect(inBundle).toContain(new X509Certificate(certificate).fingerprint256);
      }
    }
  });
});
