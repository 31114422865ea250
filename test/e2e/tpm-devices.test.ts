import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttestationReason, type Tpm2AttestRequest } from '@rampart/contracts';
import {
  QUOTED_PCRS,
  TpmDevice,
  demoFirmware,
  firmwareStages,
  manufactureTpmDevice,
  type MeasuredStage,
  type TpmAttestation,
  type TpmDeviceIdentity,
  type TpmGatewayEndpoint,
  type TpmVendorCa,
} from '@rampart/emulator';
import {
  TEST_NATS_URL,
  attestationTestEnv,
  createTestDatabase,
  createTestPki,
  queryDatabase,
  removeBusPrefix,
  uniqueBusPrefix,
  waitFor,
  type TestDatabase,
  type TestPki,
} from '@rampart/testing';
import { CertificateAuthority } from '@rampart/trust';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  gatewayTlsEnv,
  startAttestationWithTenant,
  startGatewayProcess,
  startTelemetryProcess,
  type PlatformCall,
  type ServiceProcess,
} from '../support/service-process.js';

const FLEET = 10;
const READINGS = 3;
const GOOD: MeasuredStage[] = firmwareStages(demoFirmware());
const TAMPERED: MeasuredStage[] = GOOD.map((s) => (s.stage === 'os' ? { ...s, sha256: 'ee'.repeat(32) } : s));

/** At most `limit` at once: swtpm_setup and the tpm2-tools are processes, and the machine has two cores. */
async function inBatches<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += limit) {
    results.push(...(await Promise.all(items.slice(start, start + limit).map((item, i) => task(item, start + i)))));
  }
  return results;
}

/**
 * Linux-class devices with TPM 2.0 — each its own swtpm, its EK certified by a TPM vendor the platform trusts —
 * attest end to end through the real gateway with quotes: the nonce reaches each TPM only inside MakeCredential,
 * the quote and its event log are checked against the same known-good measurements as the MCUs'. Then they work on
 * their LDevID and their telemetry is stored. Each attack is refused with its reason.
 */
describe('TPM 2.0 devices through the gateway', () => {
  let db: TestDatabase;
  let pki: TestPki;
  let dir: string;
  const prefix = uniqueBusPrefix('e2e-tpm');
  const processes: ServiceProcess[] = [];
  const booted: TpmDevice[] = [];
  let call: PlatformCall;
  let tenantToken: string;
  let gateway: TpmGatewayEndpoint;
  let vendor: TpmVendorCa;

  const make = async (name: string, tpmVendor: TpmVendorCa = vendor): Promise<TpmDeviceIdentity> => {
    const identity = await manufactureTpmDevice(join(dir, name), tpmVendor, pki.manufacturerCa);
    await call('PUT', `/v1/devices/${identity.deviceId}/claim`, tenantToken);
    return identity;
  };
  const boot = async (identity: TpmDeviceIdentity, stages = GOOD): Promise<TpmDevice> => {
    const device = await TpmDevice.boot(identity, stages);
    booted.push(device);
    return device;
  };
  const refused = (reason: string) => ({ pass: false, reasons: [reason] });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-e2e-tpm-'));
    db = await createTestDatabase();
    pki = await createTestPki();
    const vendorCa = await (await CertificateAuthority.create('Test TPM Vendor Root')).export();
    vendor = { keyPem: vendorCa.privateKeyPem, certificatePem: vendorCa.certificatePem };
    const vendorFile = join(dir, 'tpm-vendor-roots.pem');
    await writeFile(vendorFile, vendor.certificatePem);
    const operatorToken = randomBytes(24).toString('hex');
    const [attestation, telemetry, gatewayProcess] = await Promise.all([
      startAttestationWithTenant(
        {
          ...attestationTestEnv({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, pki, operatorToken }),
          TPM_VENDOR_CA_FILE: vendorFile,
        },
        operatorToken,
      ),
      startTelemetryProcess('telemetry', { DATABASE_URL: db.url, NATS_URL: TEST_NATS_URL, BUS_PREFIX: prefix, INGEST_FLUSH_MS: '50' }),
      startGatewayProcess('gateway', { NATS_URL: TEST_NATS_URL, BUS_PREFIX: prefix, ...gatewayTlsEnv(pki) }),
    ]);
    processes.push(attestation.process, telemetry.process, gatewayProcess.process);
    call = attestation.call;
    tenantToken = attestation.tenantToken;
    gateway = { host: '127.0.0.1', port: gatewayProcess.mqttPort, servername: 'localhost', caPem: pki.platformCa.certificatePem };
  });

  afterAll(async () => {
    await Promise.all(booted.map((device) => device.shutdown()));
    await Promise.all(processes.map((p) => p.stop()));
    await removeBusPrefix(prefix);
    await db?.drop();
    await pki?.remove();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it(`${FLEET} devices attest with quotes, connect on their LDevID, and their telemetry is stored`, async () => {
    const devices = await inBatches(
      Array.from({ length: FLEET }, (_, i) => i),
      4,
      async (i) => boot(await make(`device-${i}`)),
    );
    const outcomes = await inBatches(devices, 4, (device) => device.attest(gateway));
    for (const outcome of outcomes) expect(outcome).toMatchObject({ pass: true });
    const started = Date.now();
    await Promise.all(
      devices.map(async (device, i) => {
        await device.connectOperational(gateway, outcomes[i] as Extract<TpmAttestation, { pass: true }>);
        for (let seq = 1; seq <= READINGS; seq += 1) {
          await device.publishTelemetry({ seq, ts: started + seq, metrics: { 'linux.load': i + seq / 10 } });
        }
      }),
    );
    await waitFor(
      async () => {
        const rows = await queryDatabase<{ devices: string; readings: string }>(
          db.url,
          `SELECT count(DISTINCT device_id) AS devices, count(*) AS readings FROM telemetry.readings WHERE metric = 'linux.load'`,
        );
        return Number(rows[0]!.devices) === FLEET && Number(rows[0]!.readings) === FLEET * READINGS;
      },
      { timeoutMs: 20_000, intervalMs: 250, describe: 'every TPM device’s readings stored' },
    );
    const log = (await call('GET', '/v1/attestations?limit=100', tenantToken)) as unknown as Array<{
      deviceId: string;
      pass: boolean;
      kind: string;
    }>;
    for (const device of devices) {
      expect(log).toContainEqual(expect.objectContaining({ deviceId: device.deviceId, pass: true, kind: 'tpm2-quote' }));
    }
  });

  it('refuses a tampered stage, a replayed quote, an AK not bound to the EK, an event log that does not replay, an untrusted EK', async () => {
    const unknownVendorCa = await (await CertificateAuthority.create('Unknown TPM Vendor')).export();
    const [honestId, tamperedId, strangerId, offVendorId] = await Promise.all([
      make('honest'),
      make('tampered'),
      make('stranger'),
      make('off-vendor', { keyPem: unknownVendorCa.privateKeyPem, certificatePem: unknownVendorCa.certificatePem }),
    ]);
    const [honest, tampered, stranger, offVendor] = await Promise.all([
      boot(honestId),
      boot(tamperedId, TAMPERED),
      boot(strangerId),
      boot(offVendorId),
    ]);

    // A stage whose measurement is not known-good.
    expect(await tampered.attest(gateway)).toMatchObject(refused(AttestationReason.measurementUnknown));

    // A quote that passed once, sent again in answer to a new challenge.
    const first = await honest.attest(gateway);
    expect(first.pass).toBe(true);
    expect(await honest.attest(gateway, { evidence: () => first.evidence! })).toMatchObject(refused(AttestationReason.nonceReplayed));

    // Another TPM's AK beside this TPM's EK: the credential is for a key the EK's TPM does not hold, so the nonce
    // stays unknown. Quoting with its own AK under the other's name fails the signature; the other TPM's quote
    // carries a guessed nonce.
    const strangerAk = (await stranger.attestationRequest()).akPublic;
    const withStrangerAk = {
      request: (request: Tpm2AttestRequest) => ({ ...request, akPublic: strangerAk }),
      activate: () => Promise.resolve(randomBytes(32)),
    };
    expect(await honest.attest(gateway, withStrangerAk)).toMatchObject(refused(AttestationReason.quoteInvalid));
    const guessed = await stranger.tpm.quote(QUOTED_PCRS, randomBytes(32));
    expect(
      await honest.attest(gateway, {
        ...withStrangerAk,
        evidence: (evidence) => ({
          ...evidence,
          quote: guessed.quote.toString('base64url'),
          signature: guessed.signature.toString('base64url'),
        }),
      }),
    ).toMatchObject(refused(AttestationReason.akNotBound));

    // The tampered device sends the honest boot's event log: it does not replay to what its TPM quoted.
    expect(await tampered.attest(gateway, { evidence: (evidence) => ({ ...evidence, eventLog: first.evidence!.eventLog }) })).toMatchObject(
      refused(AttestationReason.eventLogInvalid),
    );

    // A TPM whose EK certificate comes from a vendor the platform does not trust: refused at the first message.
    expect(await offVendor.attest(gateway)).toMatchObject(refused(AttestationReason.ekUntrusted));

    // Every refusal is in the attestation log with its reason.
    const log = (await call('GET', '/v1/attestations?limit=100', tenantToken)) as unknown as Array<{
      deviceId: string;
      pass: boolean;
      reasons: string[];
    }>;
    for (const [device, reason] of [
      [tampered, AttestationReason.measurementUnknown],
      [honest, AttestationReason.nonceReplayed],
      [honest, AttestationReason.akNotBound],
      [tampered, AttestationReason.eventLogInvalid],
      [offVendor, AttestationReason.ekUntrusted],
    ] as const) {
      expect(log).toContainEqual(
        expect.objectContaining({ deviceId: device.deviceId, pass: false, reasons: [reason], kind: 'tpm2-quote' }),
      );
    }
  });
});
