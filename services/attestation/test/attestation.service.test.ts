// @peculiar/x509 reads decorator metadata at import time: reflect-metadata first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AttestationFailedEventSchema, AttestationReason, ErrorCode, Stream, Subject } from '@rampart/contracts';
import {
  certificateForEnvelope,
  createPsaEvidence,
  manufactureDevice,
  measure,
  psaClaimsFor,
  type BootState,
  type ManufacturedDevice,
} from '@rampart/emulator';
import { NatsBus, TypedBus, createLogger, decodeJson, encodeJson } from '@rampart/service-kit';
import { ImageSigner, PSA_LIFECYCLE, createPsaToken } from '@rampart/trust';
import {
  TEST_NATS_URL,
  attestationTestEnv,
  createTestDatabase,
  createTestPki,
  removeBusPrefix,
  uniqueBusPrefix,
  waitFor,
  type TestDatabase,
  type TestPki,
} from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAttestationConfig } from '../src/attestation.config.js';
import { AttestationBatches } from '../src/attestation/attestation-batches.js';
import { SealedNonceStore } from '../src/attestation/nonce-store.js';
import { startAttestation, type RunningAttestation } from '../src/start-attestation.js';

const run = promisify(execFile);
const image = (name: string) => measure(Buffer.from(`image ${name}`));
const platformSigner = ImageSigner.create().keyId;
const boot: BootState = {
  bootLog: [
    { stage: 'rom', sha256: image('rom') },
    { stage: 'bootloader', sha256: image('bl 2') },
    { stage: 'security-monitor', sha256: image('sm 1') },
    { stage: 'os', sha256: image('os 1.0') },
  ],
  signers: { bootloader: platformSigner, 'security-monitor': platformSigner, os: platformSigner },
  securityVersions: { os: 2 },
  versions: { os: '1.0', apps: {} },
};

describe('attestation service', () => {
  let db: TestDatabase;
  let pki: TestPki;
  let service: RunningAttestation;
  let bus: NatsBus;
  let typed: TypedBus;
  const platformToken = randomBytes(24).toString('hex');
  const prefix = uniqueBusPrefix('att');
  const tokens: Record<string, string> = {};
  const keyEncryptionKey = randomBytes(32).toString('base64');

  async function api(method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; body: any }> {
    const response = await fetch(`${service.url}${path}`, {
      method,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
  }

  async function attest(device: ManufacturedDevice, state: BootState = boot, connectionId = device.security.deviceId) {
    const { nonce } = await typed.request(Subject.attestationNonceIssue, { deviceId: device.security.deviceId });
    const evidence = JSON.stringify(createPsaEvidence(device.security, device.identityCertificatePem, nonce, state));
    return { evidence, reply: await typed.request(Subject.attestationEvidenceVerify, { deviceId: connectionId, evidence }) };
  }

  /** One replica of the installation under test: same database, bus prefix, PKI and key-encryption key. */
  const startReplica = () =>
    startAttestation(
      loadAttestationConfig(
        attestationTestEnv({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, pki, operatorToken: platformToken, keyEncryptionKey }),
      ),
      createLogger('attestation', 'silent'),
    );

  beforeAll(async () => {
    db = await createTestDatabase();
    pki = await createTestPki();
    service = await startReplica();
    bus = await NatsBus.connect({ url: TEST_NATS_URL, prefix, name: 'attestation-test', onError: () => undefined });
    typed = new TypedBus(bus);
    for (const tenant of ['acme', 'globex']) {
      const created = await api('POST', '/v1/tenants', platformToken, { id: tenant, name: tenant.toUpperCase() });
      expect(created.status).toBe(201);
      tokens[tenant] = created.body.administratorToken;
    }
    tokens['acmeReader'] = (await api('POST', '/v1/tokens', tokens['acme'], { role: 'Reader' })).body.token;
    for (const m of boot.bootLog)
      expect((await api('PUT', '/v1/measurements', platformToken, { ...m, status: 'released' })).status).toBe(204);
    expect((await api('PUT', '/v1/security-floors/os', platformToken, { minVersion: 2 })).status).toBe(204);
  });

  afterAll(async () => {
    await service?.close();
    await bus?.drain();
    await removeBusPrefix(prefix);
    await db?.drop();
    await pki?.remove();
  });

  it('attests a claimed device and issues a 24 h certificate that openssl verifies up to the platform root', async () => {
    const device = await manufactureDevice(pki.manufacturerCa);
    expect((await api('PUT', `/v1/devices/${device.security.deviceId}/claim`, tokens['acme'])).body).toEqual({
      deviceId: device.security.deviceId,
      claimed: 'claimed',
      // No updates service runs here, so no update root comes with the claim (the updates tests show it does).
      updateRoot: null,
    });
    const { reply } = await attest(device);
    expect(reply.pass).toBe(true);
    if (!reply.pass) return;
    const cert = new X509Certificate(reply.certificatePem);
    expect(cert.subjectAltName).toContain('urn:rampart:tenant:acme');
    expect(new Date(cert.validTo).getTime() - Date.now()).toBeGreaterThan(23 * 3_600_000);
    await writeFile(join(pki.dir, 'leaf.pem'), reply.certificatePem);
    await writeFile(join(pki.dir, 'chain.pem'), reply.chainPem);
    const { stdout } = await run('openssl', [
      'verify',
      '-x509_strict',
      '-purpose',
      'sslclient',
      '-CAfile',
      pki.files.platformCa,
      '-untrusted',
      join(pki.dir, 'chain.pem'),
      join(pki.dir, 'leaf.pem'),
    ]);
    expect(stdout).toMatch(/OK/);
  });

  it('refuses a replayed evidence, records the verdict and audits it', async () => {
    const device = await manufactureDevice(pki.manufacturerCa);
    await api('PUT', `/v1/devices/${device.security.deviceId}/claim`, tokens['acme']);
    const { evidence, reply } = await attest(device);
    expect(reply.pass).toBe(true);
    const replay = await typed.request(Subject.attestationEvidenceVerify, { deviceId: device.security.deviceId, evidence });
    expect(replay).toEqual({ pass: false, reasons: [AttestationReason.nonceReplayed] });
    const log = await api('GET', '/v1/attestations', tokens['acmeReader']);
    expect(
      log.body
        .filter((v: { deviceId: string }) => v.deviceId === device.security.deviceId)
        .map((v: { pass: boolean; kind: string | null }) => [v.pass, v.kind]),
    ).toEqual([
      [false, 'psa-token'],
      [true, 'psa-token'],
    ]);
    const audit = await api('GET', '/v1/audit', tokens['acme']);
    expect(
      audit.body.some(
        (a: { action: string; subject: string }) => a.action === 'attestation.fail' && a.subject === device.security.deviceId,
      ),
    ).toBe(true);
  });

  it('refuses an unclaimed device, a revoked one, and an unknown measurement — no certificate', async () => {
    const unclaimed = await manufactureDevice(pki.manufacturerCa);
    expect((await attest(unclaimed)).reply).toEqual({ pass: false, reasons: [AttestationReason.deviceUnclaimed] });
    const revoked = await manufactureDevice(pki.manufacturerCa);
    await api('PUT', `/v1/devices/${revoked.security.deviceId}/claim`, tokens['acme']);
    expect((await api('POST', `/v1/devices/${revoked.security.deviceId}/revoke`, tokens['acme'], { reason: 'stolen' })).body).toMatchObject(
      { revoked: true, revokedReason: 'stolen' },
    );
    expect((await attest(revoked)).reply).toEqual({ pass: false, reasons: [AttestationReason.deviceRevoked] });
    await api('POST', `/v1/devices/${revoked.security.deviceId}/unrevoke`, tokens['acme']);
    const patched: BootState = {
      ...boot,
      bootLog: boot.bootLog.map((m) => (m.stage === 'os' ? { stage: 'os', sha256: image('os patched') } : m)),
    };
    expect((await attest(revoked, patched)).reply).toEqual({ pass: false, reasons: [AttestationReason.measurementUnknown] });
    expect((await attest(revoked)).reply.pass).toBe(true);
  });

  it('refuses evidence naming a version the database could not hold, and attests the device beside it', async () => {
    const hostile = await manufactureDevice(pki.manufacturerCa);
    const neighbour = await manufactureDevice(pki.manufacturerCa);
    for (const d of [hostile, neighbour]) await api('PUT', `/v1/devices/${d.security.deviceId}/claim`, tokens['acme']);
    const [refused, attested] = await Promise.allSettled([
      attest(hostile, { ...boot, versions: { os: '1.0\u0000', apps: {} } }),
      attest(neighbour),
    ]);
    expect(attested).toMatchObject({ status: 'fulfilled', value: { reply: { pass: true } } });
    expect(refused).toMatchObject({ status: 'fulfilled', value: { reply: { pass: false } } });
    const device = await api('GET', `/v1/devices/${hostile.security.deviceId}`, tokens['acme']);
    expect(device.status).toBe(200);
  });

  it('announces a revocation to every gateway and puts the device on the deny-list', async () => {
    const device = await manufactureDevice(pki.manufacturerCa);
    const id = device.security.deviceId;
    await api('PUT', `/v1/devices/${id}/claim`, tokens['acme']);
    const { reply } = await attest(device);
    if (!reply.pass) throw new Error('attestation failed');
    const events: unknown[] = [];
    const listening = await bus.listen(Subject.attestationDeviceRevocation, (data) =>
      events.push(JSON.parse(new TextDecoder().decode(data))),
    );
    expect((await api('POST', `/v1/devices/${id}/revoke`, tokens['acme'], { reason: 'lost' })).status).toBe(201);
    await waitFor(() => events.length === 1, { describe: 'revocation event' });
    expect(events[0]).toEqual({ deviceId: id, revoked: true, reason: 'lost' });
    expect((await typed.request(Subject.attestationRevocationsList, {})).deviceIds).toContain(id);
    const audit = await api('GET', '/v1/audit', tokens['acme']);
    expect(
      audit.body.find((a: { action: string; subject: string }) => a.action === 'device.revoke' && a.subject === id)?.detail,
    ).toMatchObject({ certificatesRevoked: 1 });
    // The signed CRL now lists the device's certificate: openssl refuses the chain with -crl_check.
    const crl = await fetch(`${service.url}/v1/tenants/acme/crl`);
    expect(crl.status).toBe(200);
    await writeFile(join(pki.dir, 'acme.crl'), await crl.text());
    await writeFile(join(pki.dir, 'revoked.pem'), reply.certificatePem);
    await writeFile(join(pki.dir, 'acme-chain.pem'), reply.chainPem);
    await expect(
      run('openssl', [
        'verify',
        '-crl_check',
        '-CAfile',
        pki.files.platformCa,
        '-untrusted',
        join(pki.dir, 'acme-chain.pem'),
        '-CRLfile',
        join(pki.dir, 'acme.crl'),
        join(pki.dir, 'revoked.pem'),
      ]),
    ).rejects.toThrow(/certificate revoked/);
    await api('POST', `/v1/devices/${id}/unrevoke`, tokens['acme']);
    await waitFor(() => events.length === 2, { describe: 'un-revocation event' });
    expect((await typed.request(Subject.attestationRevocationsList, {})).deviceIds).not.toContain(id);
    await listening.close();
  });

  describe('revocation lists (RFC 5280)', () => {
    /** Where a certificate says its issuer's CRL is: the one URI of its CRL distribution point. */
    function crlDistributionPoint(pem: string): string {
      const extension = new x509.X509Certificate(pem).getExtension(x509.CRLDistributionPointsExtension);
      const uris = extension?.distributionPoints.flatMap(
        (p) => p.distributionPoint?.fullName?.map((n) => n.uniformResourceIdentifier) ?? [],
      );
      expect(uris).toHaveLength(1);
      return uris![0]!;
    }

    /** Fetches a CRL from `base` at the path a distribution point names, and keeps it in a file for openssl. */
    async function fetchCrl(base: string, distributionPoint: string, file: string): Promise<{ path: string; number: number }> {
      const response = await fetch(`${base}${new URL(distributionPoint).pathname}`);
      expect(response.status).toBe(200);
      const path = join(pki.dir, file);
      await writeFile(path, await response.text());
      const { stdout } = await run('openssl', ['crl', '-in', path, '-noout', '-text']);
      const number = /X509v3 CRL Number:\s*\n\s*(\d+)/.exec(stdout)?.[1];
      expect(number).toBeDefined();
      return { path, number: Number(number) };
    }

    it("names each CA's CRL in what it issues: the LDevID points at its tenant CA's, the tenant CA at the platform root's", async () => {
      const device = await manufactureDevice(pki.manufacturerCa);
      await api('PUT', `/v1/devices/${device.security.deviceId}/claim`, tokens['acme']);
      const { reply } = await attest(device);
      if (!reply.pass) throw new Error('attestation failed');
      const caId = (await service.repository.currentTenantCa('acme'))!.id;
      expect(crlDistributionPoint(reply.certificatePem)).toBe(`http://attestation.test/v1/tenants/acme/ca-certificates/${caId}/crl`);
      expect(crlDistributionPoint(reply.chainPem)).toBe('http://attestation.test/v1/platform/crl');
      expect((await fetch(`${service.url}/v1/tenants/globex/ca-certificates/${caId}/crl`)).status).toBe(404);
      expect((await fetch(`${service.url}/v1/tenants/acme/ca-certificates/not-a-uuid/crl`)).status).toBe(400);
    });

    it('lets openssl -crl_check_all verify a device chain, then refuse it once revoked; every new CRL has a higher CRL Number, whichever replica makes it', async () => {
      const device = await manufactureDevice(pki.manufacturerCa);
      const id = device.security.deviceId;
      await api('PUT', `/v1/devices/${id}/claim`, tokens['acme']);
      const { reply } = await attest(device);
      if (!reply.pass) throw new Error('attestation failed');
      const leaf = join(pki.dir, 'crl-leaf.pem');
      const chain = join(pki.dir, 'crl-chain.pem');
      await writeFile(leaf, reply.certificatePem);
      await writeFile(chain, reply.chainPem);
      const tenantCdp = crlDistributionPoint(reply.certificatePem);
      const rootCdp = crlDistributionPoint(reply.chainPem);
      const verify = (tenantCrl: string, rootCrl: string) =>
        run('openssl', [
          'verify',
          '-x509_strict',
          '-crl_check_all',
          '-CAfile',
          pki.files.platformCa,
          '-untrusted',
          chain,
          '-CRLfile',
          tenantCrl,
          '-CRLfile',
          rootCrl,
          leaf,
        ]);

      const before = await fetchCrl(service.url, tenantCdp, 'acme-before.crl');
      const root = await fetchCrl(service.url, rootCdp, 'platform.crl');
      expect((await verify(before.path, root.path)).stdout).toMatch(/crl-leaf\.pem: OK/);

      // The revocation is made through this replica; the new CRL is asked of another one.
      expect((await api('POST', `/v1/devices/${id}/revoke`, tokens['acme'], { reason: 'stolen' })).status).toBe(201);
      const other = await startReplica();
      try {
        // Both replicas asked at once for the new list: one makes it, the other serves the same, under one new number.
        const [after, ...others] = await Promise.all([
          fetchCrl(other.url, tenantCdp, 'acme-after.crl'),
          fetchCrl(service.url, tenantCdp, 'acme-after-a.crl'),
          fetchCrl(other.url, tenantCdp, 'acme-after-b.crl'),
          fetchCrl(service.url, tenantCdp, 'acme-after-c.crl'),
        ]);
        expect(after.number).toBe(before.number + 1);
        expect(others.map((o) => o.number)).toEqual([after.number, after.number, after.number]);
        await expect(verify(after.path, root.path)).rejects.toThrow(/certificate revoked/);
        expect((await fetchCrl(service.url, tenantCdp, 'acme-again.crl')).number).toBe(after.number);
        // The root's list changed nothing: it keeps its number.
        expect((await fetchCrl(other.url, rootCdp, 'platform-again.crl')).number).toBe(root.number);
      } finally {
        await other.close();
      }
    });
  });

  it('rotates the tenant CA: successor published first, then issuing; certificates from both verify', async () => {
    const events: unknown[] = [];
    const listening = await bus.listen(Subject.attestationCaRotated, (data) => events.push(JSON.parse(new TextDecoder().decode(data))));
    const before = await manufactureDevice(pki.manufacturerCa);
    await api('PUT', `/v1/devices/${before.security.deviceId}/claim`, tokens['globex']);
    const first = (await attest(before)).reply;
    expect((await api('POST', '/v1/ca-certificates/successor', tokens['globex'])).body).toEqual({ created: true });
    const bundle = await (await fetch(`${service.url}/v1/tenants/globex/trust-bundle`)).text();
    expect(bundle.match(/BEGIN CERTIFICATE/g)).toHaveLength(3);
    expect((await api('POST', '/v1/ca-certificates/rotate', tokens['globex'])).body).toEqual({ rotated: true });
    // After the switch the retired CA stays in the bundle while its certificates can still be valid.
    const overlapBundle = await (await fetch(`${service.url}/v1/tenants/globex/trust-bundle`)).text();
    expect(overlapBundle.match(/BEGIN CERTIFICATE/g)).toHaveLength(3);
    const after = await manufactureDevice(pki.manufacturerCa);
    await api('PUT', `/v1/devices/${after.security.deviceId}/claim`, tokens['globex']);
    const second = (await attest(after)).reply;
    if (!first.pass || !second.pass) throw new Error('attestation failed');
    expect(new X509Certificate(first.certificatePem).issuer).toBe(new X509Certificate(second.certificatePem).issuer);
    expect(new X509Certificate(first.certificatePem).checkIssued(new X509Certificate(second.chainPem))).toBe(false);
    // Both generations verify against the root with the bundle published after the rotation.
    await writeFile(join(pki.dir, 'bundle.pem'), overlapBundle);
    for (const [name, pem] of [
      ['first.pem', first.certificatePem],
      ['second.pem', second.certificatePem],
    ] as const) {
      await writeFile(join(pki.dir, name), pem);
      const { stdout } = await run('openssl', [
        'verify',
        '-x509_strict',
        '-purpose',
        'sslclient',
        '-CAfile',
        pki.files.platformCa,
        '-untrusted',
        join(pki.dir, 'bundle.pem'),
        join(pki.dir, name),
      ]);
      expect(stdout).toMatch(/OK/);
    }
    await waitFor(() => events.length === 2, { describe: 'two rotation events' });
    expect(events).toEqual([
      { tenantId: 'globex', action: 'ca.successor-created' },
      { tenantId: 'globex', action: 'ca.rotated' },
    ]);
    await listening.close();
  });

  it('rotates by policy: a successor 30 days before expiry, issuing from it 7 days before', async () => {
    const yearAhead = Date.now() + 365 * 86_400_000;
    expect(await service.authorities.rotateIfDue('acme', Date.now())).toBe('none');
    expect(await service.authorities.rotateIfDue('acme', yearAhead - 20 * 86_400_000)).toBe('prepared');
    expect(await service.authorities.rotateIfDue('acme', yearAhead - 20 * 86_400_000)).toBe('none');
    expect(await service.authorities.rotateIfDue('acme', yearAhead - 3 * 86_400_000)).toBe('activated');
  });

  it('follows image releases and revocations from the updates stream', async () => {
    await bus.ensureStream({
      name: Stream.updates.name,
      subjects: Stream.updates.subjects,
      maxAgeMs: 3_600_000,
      duplicateWindowMs: 60_000,
    });
    const newOs = image('os 2.0');
    const upgraded: BootState = {
      ...boot,
      bootLog: boot.bootLog.map((m) => (m.stage === 'os' ? { stage: 'os', sha256: newOs } : m)),
      versions: { os: '2.0', apps: {} },
    };
    const device = await manufactureDevice(pki.manufacturerCa);
    await api('PUT', `/v1/devices/${device.security.deviceId}/claim`, tokens['acme']);
    expect((await attest(device, upgraded)).reply).toEqual({ pass: false, reasons: [AttestationReason.measurementUnknown] });
    const event = { imageId: 'os-2.0', stage: 'os', sha256: newOs, version: '2.0' };
    await bus.publishDurable(Subject.updatesImageReleased, encodeJson(event), { msgId: 'os-2.0-released' });
    await waitFor(async () => (await attest(device, upgraded)).reply.pass, {
      timeoutMs: 10_000,
      intervalMs: 100,
      describe: 'release applied',
    });
    await bus.publishDurable(Subject.updatesImageRevoked, encodeJson(event), { msgId: 'os-2.0-revoked' });
    await waitFor(
      async () => {
        const { reply } = await attest(device, upgraded);
        return !reply.pass && reply.reasons.includes(AttestationReason.measurementRevoked);
      },
      { timeoutMs: 10_000, intervalMs: 100, describe: 'revocation applied' },
    );
  });

  it('publishes every refusal durably as a failure report, against the authenticated device', async () => {
    const reports: Array<{ deviceId: string; tenantId: string | null; reasons: string[] }> = [];
    const consumer = await bus.consumeDurable(
      {
        stream: Stream.attestation.name,
        durable: 'test-failure-reports',
        filterSubject: Subject.attestationVerdictFailed,
        maxAckPending: 100,
        ackWaitMs: 5_000,
      },
      (message) => {
        reports.push(AttestationFailedEventSchema.parse(decodeJson(message.data)));
        message.ack();
      },
    );
    try {
      const unclaimed = await manufactureDevice(pki.manufacturerCa);
      expect((await attest(unclaimed)).reply).toEqual({ pass: false, reasons: [AttestationReason.deviceUnclaimed] });
      const claimed = await manufactureDevice(pki.manufacturerCa);
      await api('PUT', `/v1/devices/${claimed.security.deviceId}/claim`, tokens['acme']);
      expect((await attest(claimed)).reply.pass).toBe(true);
      const { evidence } = await attest(claimed);
      await typed.request(Subject.attestationEvidenceVerify, { deviceId: claimed.security.deviceId, evidence });
      // Earlier tests' refusals are in the stream too.
      const ours = () => reports.filter((r) => [unclaimed.security.deviceId, claimed.security.deviceId].includes(r.deviceId));
      await waitFor(() => ours().length >= 2, { describe: 'two failure reports' });
      expect(ours()).toEqual([
        expect.objectContaining({ deviceId: unclaimed.security.deviceId, tenantId: null, reasons: [AttestationReason.deviceUnclaimed] }),
        expect.objectContaining({ deviceId: claimed.security.deviceId, tenantId: 'acme', reasons: [AttestationReason.nonceReplayed] }),
      ]);
    } finally {
      await consumer.close();
    }
  });

  it('refuses a part out of its secured lifecycle and unreadable evidence, recording each verdict with its evidence kind', async () => {
    const debug = await manufactureDevice(pki.manufacturerCa);
    await api('PUT', `/v1/devices/${debug.security.deviceId}/claim`, tokens['acme']);
    const deviceId = debug.security.deviceId;
    const { nonce } = await typed.request(Subject.attestationNonceIssue, { deviceId });
    const claims = { ...psaClaimsFor(debug.security, nonce, boot), securityLifecycle: PSA_LIFECYCLE.nonPsaRotDebug };
    const token = createPsaToken(claims, (tbs) => debug.security.attestationSign(tbs));
    const evidence = JSON.stringify({
      kind: 'psa-token',
      token: Buffer.from(token).toString('base64url'),
      iakCertificate: certificateForEnvelope(debug.identityCertificatePem),
    });
    expect(await typed.request(Subject.attestationEvidenceVerify, { deviceId, evidence })).toEqual({
      pass: false,
      reasons: [AttestationReason.lifecycleNotSecured],
    });
    const retired = JSON.stringify({ evidence: 'eyJ9', signature: 'AA' });
    expect(await typed.request(Subject.attestationEvidenceVerify, { deviceId, evidence: retired })).toEqual({
      pass: false,
      reasons: [AttestationReason.malformedEvidence],
    });
    const log = await api('GET', '/v1/attestations', tokens['acmeReader']);
    expect(
      log.body
        .filter((v: { deviceId: string }) => v.deviceId === deviceId)
        .map((v: { reasons: string[]; kind: string | null }) => [v.reasons, v.kind]),
    ).toEqual([
      [[AttestationReason.malformedEvidence], null],
      [[AttestationReason.lifecycleNotSecured], 'psa-token'],
    ]);
  });

  it("never lets one device's connection attest as another", async () => {
    const victim = await manufactureDevice(pki.manufacturerCa);
    const attacker = await manufactureDevice(pki.manufacturerCa);
    await api('PUT', `/v1/devices/${victim.security.deviceId}/claim`, tokens['acme']);
    const { reply } = await attest(victim, boot, attacker.security.deviceId);
    expect(reply).toEqual({ pass: false, reasons: [AttestationReason.deviceMismatch] });
    const shown = await api('GET', `/v1/devices/${victim.security.deviceId}`, tokens['acme']);
    expect(shown.body.lastPass).toBeNull();
  });

  describe('admission, where the work lands (every gateway replica sends here)', () => {
    it('limits each device id, whatever connection or gateway its requests come from, and serves other devices meanwhile', async () => {
      const flooder = await manufactureDevice(pki.manufacturerCa);
      const outcomes: string[] = [];
      // The default burst is 20 a device; one request at a time, as many connections would send them.
      for (let i = 0; i < 26; i++) {
        outcomes.push(
          await typed.request(Subject.attestationNonceIssue, { deviceId: flooder.security.deviceId }).then(
            () => 'ok',
            (error: unknown) => (error as { code?: string }).code ?? 'other',
          ),
        );
      }
      expect(outcomes.slice(0, 20)).toEqual(Array(20).fill('ok'));
      expect(outcomes.filter((o) => o === ErrorCode.rateLimited).length).toBeGreaterThanOrEqual(4);
      expect(outcomes.every((o) => o === 'ok' || o === ErrorCode.rateLimited)).toBe(true);
      const other = await manufactureDevice(pki.manufacturerCa);
      await api('PUT', `/v1/devices/${other.security.deviceId}/claim`, tokens['acme']);
      expect((await attest(other)).reply).toMatchObject({ pass: true });
    });

    it('drops a request whose requester has given up (its deadline passed) without doing it', async () => {
      const device = await manufactureDevice(pki.manufacturerCa);
      await api('PUT', `/v1/devices/${device.security.deviceId}/claim`, tokens['acme']);
      const { nonce } = await typed.request(Subject.attestationNonceIssue, { deviceId: device.security.deviceId });
      const evidence = JSON.stringify(createPsaEvidence(device.security, device.identityCertificatePem, nonce, boot));
      await expect(
        typed.request(Subject.attestationEvidenceVerify, { deviceId: device.security.deviceId, evidence, timeoutMs: 0 }),
      ).rejects.toMatchObject({ code: ErrorCode.timeout });
      // Not done: the nonce was never spent, so the same evidence passes once asked in time.
      expect(await typed.request(Subject.attestationEvidenceVerify, { deviceId: device.security.deviceId, evidence })).toMatchObject({
        pass: true,
      });
    });
  });

  describe('several replicas', () => {
    /** Two replicas' nonce stores: the same key (from the shared KEK), the same database. */
    function replicas(): [SealedNonceStore, SealedNonceStore] {
      const key = Buffer.from(keyEncryptionKey, 'base64');
      return [
        new SealedNonceStore(key, 60_000, new AttestationBatches(service.repository)),
        new SealedNonceStore(key, 60_000, new AttestationBatches(service.repository)),
      ];
    }

    it('spends a nonce issued by one replica at another, once: a replay fails on either, a race is won by one', async () => {
      const [a, b] = replicas();
      const id = 'a'.repeat(64);
      const now = Date.now();
      const { nonce } = await a.issue(id, now);
      expect(await b.consume(nonce, id, now)).toEqual({ ok: true });
      expect(await a.consume(nonce, id, now)).toEqual({ ok: false, reason: AttestationReason.nonceReplayed });
      expect(await b.consume(nonce, id, now)).toEqual({ ok: false, reason: AttestationReason.nonceReplayed });

      const raced = await Promise.all(
        Array.from({ length: 5 }, async () => {
          const { nonce: n } = await a.issue(id, now);
          return Promise.all([a.consume(n, id, now), b.consume(n, id, now), a.consume(n, id, now)]);
        }),
      );
      for (const outcomes of raced) expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
    });

    it('sweeps spent nonces only once they have expired, and an expired nonce stays refused', async () => {
      const [a] = replicas();
      const id = 'b'.repeat(64);
      const past = Date.now() - 10 * 60_000;
      const { nonce: old } = await a.issue(id, past);
      expect(await a.consume(old, id, past)).toEqual({ ok: true });
      const { nonce: fresh } = await a.issue(id, Date.now());
      expect(await a.consume(fresh, id, Date.now())).toEqual({ ok: true });
      expect(await service.repository.sweepSpentNonces()).toBeGreaterThanOrEqual(1);
      expect(await a.consume(old, id, Date.now())).toEqual({ ok: false, reason: AttestationReason.nonceExpired });
      expect(await a.consume(fresh, id, Date.now())).toEqual({ ok: false, reason: AttestationReason.nonceReplayed });
    });

    it('applies a policy change made through one replica at every other one at once, not after its cache expires', async () => {
      const second = await startReplica();
      try {
        // A device per attestation: each device id has its own request limit (see admission above), the policy is everyone's.
        const devices = await Promise.all(Array.from({ length: 12 }, () => manufactureDevice(pki.manufacturerCa)));
        for (const device of devices) await api('PUT', `/v1/devices/${device.security.deviceId}/claim`, tokens['acme']);
        // Both replicas answer from the queue group; a dozen attestations warm both caches.
        for (const device of devices) expect((await attest(device)).reply.pass).toBe(true);
        const os = boot.bootLog.find((m) => m.stage === 'os')!;
        expect((await api('PUT', '/v1/measurements', platformToken, { ...os, status: 'revoked' })).status).toBe(204);
        await new Promise((r) => setTimeout(r, 100));
        for (const device of devices) {
          expect((await attest(device)).reply).toEqual({ pass: false, reasons: [AttestationReason.measurementRevoked] });
        }
        expect((await api('PUT', '/v1/measurements', platformToken, { ...os, status: 'released' })).status).toBe(204);
        await new Promise((r) => setTimeout(r, 100));
        for (const device of devices) expect((await attest(device)).reply.pass).toBe(true);
      } finally {
        await second.close();
      }
    });
  });

  describe('tenancy and roles', () => {
    it('makes claiming permanent: idempotent for the owner, 409 for anyone else', async () => {
      const device = await manufactureDevice(pki.manufacturerCa);
      const id = device.security.deviceId;
      expect((await api('PUT', `/v1/devices/${id}/claim`, tokens['acme'])).body.claimed).toBe('claimed');
      expect((await api('PUT', `/v1/devices/${id}/claim`, tokens['acme'])).body.claimed).toBe('already-yours');
      expect((await api('PUT', `/v1/devices/${id}/claim`, tokens['globex'])).status).toBe(409);
    });

    it("hides one tenant's devices, logs and CA from another", async () => {
      const device = await manufactureDevice(pki.manufacturerCa);
      const id = device.security.deviceId;
      await api('PUT', `/v1/devices/${id}/claim`, tokens['acme']);
      expect((await api('GET', `/v1/devices/${id}`, tokens['globex'])).status).toBe(404);
      expect((await api('GET', '/v1/devices', tokens['globex'])).body.some((d: { id: string }) => d.id === id)).toBe(false);
      expect((await api('POST', `/v1/devices/${id}/revoke`, tokens['globex'], { reason: 'hostile' })).status).toBe(404);
      const globexAudit = await api('GET', '/v1/audit', tokens['globex']);
      expect(globexAudit.body.some((a: { subject: string }) => a.subject === id)).toBe(false);
      const cas = await api('GET', '/v1/ca-certificates', tokens['globex']);
      expect(cas.body.map((c: { certificatePem: string }) => new X509Certificate(c.certificatePem).subject)).not.toContain(
        'CN=Rampart tenant acme CA',
      );
    });

    it('lets a Reader read but not change anything, and refuses missing or unknown tokens', async () => {
      const device = await manufactureDevice(pki.manufacturerCa);
      expect((await api('GET', '/v1/devices', tokens['acmeReader'])).status).toBe(200);
      expect((await api('PUT', `/v1/devices/${device.security.deviceId}/claim`, tokens['acmeReader'])).status).toBe(403);
      expect((await api('POST', '/v1/tokens', tokens['acmeReader'], { role: 'Administrator' })).status).toBe(403);
      expect((await api('GET', '/v1/audit', tokens['acmeReader'])).status).toBe(403);
      expect((await api('GET', '/v1/devices', undefined)).status).toBe(401);
      expect((await api('GET', '/v1/devices', `rmp_${'x'.repeat(40)}`)).status).toBe(401);
      expect((await api('POST', '/v1/tenants', tokens['acme'], { id: 'evil', name: 'x' })).status).toBe(403);
      expect((await api('PUT', '/v1/measurements', tokens['acme'], { ...boot.bootLog[0], status: 'revoked' })).status).toBe(403);
    });

    it('refuses bad input with 400 and keeps stored data intact', async () => {
      expect((await api('PUT', '/v1/devices/not-a-device/claim', tokens['acme'])).status).toBe(400);
      expect((await api('POST', '/v1/tenants', platformToken, { id: 'Bad Id!', name: '' })).status).toBe(400);
      expect((await api('POST', '/v1/tenants', platformToken, { id: 'acme', name: 'again' })).status).toBe(409);
      expect((await api('GET', '/v1/devices', tokens['acme'])).status).toBe(200);
    });
  });
});
