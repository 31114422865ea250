import { execFile } from 'node:child_process';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { AttestationReason, Subject, type Tpm2AttestRequest } from '@rampart/contracts';
import { TpmDevice, demoFirmware, firmwareStages, manufactureTpmDevice, storeTpmVendorCa } from '@rampart/emulator';
import { NatsBus, TypedBus, createLogger } from '@rampart/service-kit';
import { CertificateAuthority, MAX_DETAIL_CHARS } from '@rampart/trust';
import {
  TEST_NATS_URL,
  attestationTestEnv,
  createTestDatabase,
  createTestPki,
  removeBusPrefix,
  uniqueBusPrefix,
  type TestDatabase,
  type TestPki,
} from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAttestationConfig } from '../src/attestation.config.js';
import { startAttestation, type RunningAttestation } from '../src/start-attestation.js';

const run = promisify(execFile);

/**
 * The TPM challenge over the real bus path (gateway → NATS → attestation service, as configured from the
 * environment): a vendor trusted through its issuing CA in TPM_VENDOR_CA_FILE, a crafted EK template refused with a
 * reason rather than a bus error, and a refusal detail that quotes device input bounded in the log.
 */
describe('TPM credential challenge over the bus', () => {
  let db: TestDatabase;
  let pki: TestPki;
  let dir: string;
  let service: RunningAttestation;
  let bus: NatsBus;
  let typed: TypedBus;
  let device: TpmDevice;
  const logLines: Array<Record<string, unknown>> = [];
  const prefix = uniqueBusPrefix('att-tpm');

  beforeAll(async () => {
    db = await createTestDatabase();
    pki = await createTestPki();
    dir = await mkdtemp(join(tmpdir(), 'rampart-tpm-bus-'));
    const root = await CertificateAuthority.create('Bus TPM Vendor Root', 3650, 1);
    const issuing = await root.issueIntermediate('Bus TPM Vendor Issuing CA', 365);
    const vendorFile = join(dir, 'tpm-vendors.pem');
    await writeFile(vendorFile, `${root.certificatePem}\n${issuing.certificatePem}\n`);
    const issuingCa = await issuing.export();
    const identity = await manufactureTpmDevice(
      join(dir, 'device'),
      await storeTpmVendorCa(join(dir, 'vendor'), issuingCa),
      pki.manufacturerCa,
    );
    device = await TpmDevice.boot(identity, firmwareStages(demoFirmware()));
    const logs = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    service = await startAttestation(
      loadAttestationConfig({
        ...attestationTestEnv({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, pki, operatorToken: 'x'.repeat(32) }),
        TPM_VENDOR_CA_FILE: vendorFile,
      }),
      createLogger('attestation', 'warn', logs),
    );
    bus = await NatsBus.connect({ url: TEST_NATS_URL, prefix, name: 'attestation-tpm-test', onError: () => undefined });
    typed = new TypedBus(bus);
  });

  afterAll(async () => {
    await device?.shutdown();
    await service?.close();
    await bus?.drain();
    await removeBusPrefix(prefix);
    await db?.drop();
    await pki?.remove();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const challenge = (request: Tpm2AttestRequest) =>
    typed.request(Subject.attestationTpm2Challenge, { deviceId: device.deviceId, request }, 10_000);

  it("answers a TPM whose EK certificate chains through the vendor's issuing CA", async () => {
    const reply = await challenge(await device.attestationRequest());
    expect(reply).toMatchObject({ pass: true, challenge: { idObject: expect.any(String) as unknown } });
  });

  it('refuses a crafted EK template (SHA-1 nameAlg) as EK_UNTRUSTED instead of failing the request', async () => {
    const request = await device.attestationRequest();
    const ekPublic = Buffer.from(request.ekPublic, 'base64url');
    ekPublic.writeUInt16BE(0x0004, 4);
    expect(await challenge({ ...request, ekPublic: ekPublic.toString('base64url') })).toEqual({
      pass: false,
      reasons: [AttestationReason.ekUntrusted],
    });
  });

  it('bounds a refusal detail that quotes the device (an EK certificate with a 500-character issuer name) in the log', async () => {
    const key = join(dir, 'long.key');
    const cert = join(dir, 'long.der');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-outform',
      'DER',
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      // A name's attributes are at most 64 characters each; eight of them make a long one.
      `/CN=EK${`/OU=${'A'.repeat(60)}`.repeat(8)}`,
      '-addext',
      'basicConstraints=critical,CA:FALSE',
    ]);
    const request = await device.attestationRequest();
    const reply = await challenge({ ...request, ekCertificate: (await readFile(cert)).toString('base64url') });
    expect(reply).toEqual({ pass: false, reasons: [AttestationReason.ekUntrusted] });
    const refused = logLines.filter((l) => l['msg'] === 'attestation refused' && String(l['detail']).includes('AAAA'));
    expect(refused).toHaveLength(1);
    expect(String(refused[0]!['detail']).length).toBeLessThanOrEqual(MAX_DETAIL_CHARS);
  });
});
