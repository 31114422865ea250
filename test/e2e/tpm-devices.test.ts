import { randomBytes } from 'node:crypto';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttestationReason, type Tpm2AttestRequest } from '@rampart/contracts';
import {
  DEMO_HARDWARE,
  EmulatedDevice,
  QUOTED_PCRS,
  SecureOs,
  demoFirmware,
  demoFirmwareSigners,
  encodeImage,
  manufactureTpmDevice,
  measureImage,
  platformImage,
  provisionUpdateRoot,
  realEnvironment,
  runFleet,
  tpmDeviceIdentity,
  type AttestationOutcome,
  type DeviceEnvironment,
  type Firmware,
  type TpmDeviceIdentity,
  storeTpmVendorCa,
  type TpmVendorCa,
} from '@rampart/emulator';
import {
  TEST_NATS_URL,
  attestationTestEnv,
  callApi,
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
  startFailuresProcess,
  startGatewayProcess,
  startTelemetryProcess,
  startUpdatesProcess,
  updatesKeysEnv,
  type PlatformCall,
  type ServiceProcess,
} from '../support/service-process.js';
import { MisbehavingTpmAttestor } from '../support/misbehaving-tpm-attestor.js';

const FLEET = 10;
const READINGS = 3;

/** At most `limit` at once: swtpm_setup and the tpm2-tools are processes, and the machine has two cores. */
async function inBatches<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += limit) {
    results.push(...(await Promise.all(items.slice(start, start + limit).map((item, i) => task(item, start + i)))));
  }
  return results;
}

/** The real clock, except that a wait of ten minutes or more (the LDevID's renewal at 80 % of a day) takes a second. */
const renewalSoon: DeviceEnvironment = {
  ...realEnvironment,
  setTimer: (fn, ms) => realEnvironment.setTimer(fn, ms >= 600_000 ? 1_000 : ms),
};

interface TpmFleetDevice {
  readonly device: EmulatedDevice;
  readonly attestor: MisbehavingTpmAttestor;
  readonly made: TpmDeviceIdentity;
  /** Every verdict the device was told, in order. */
  readonly verdicts: AttestationOutcome[];
  /** Resolves with the next verdict after this call. */
  next(): Promise<AttestationOutcome>;
}

/**
 * Linux-class devices with TPM 2.0 — each its own swtpm, its EK certified by a TPM vendor the platform trusts — are
 * emulated devices like the MCUs, with the TPM attestor: every boot extends the PCRs with what secure boot measured,
 * and they attest end to end through the real gateway with quotes (the nonce reaches each TPM only inside
 * MakeCredential), then work on their LDevID: telemetry stored, the LDevID renewed at 80 % with a new quote, a signed
 * OS update from the updates service installed, and the boot after it quoted and accepted. Each attack is refused
 * with its reason.
 */
describe('TPM 2.0 devices through the gateway', () => {
  let db: TestDatabase;
  let pki: TestPki;
  let dir: string;
  const prefix = uniqueBusPrefix('e2e-tpm');
  const processes: ServiceProcess[] = [];
  const running: EmulatedDevice[] = [];
  let call: PlatformCall;
  let tenantToken: string;
  let gatewayPort: number;
  let updatesUrl: string;
  let updatesDevicePort: number;
  let vendor: TpmVendorCa;

  const make = async (name: string, options: { vendor?: TpmVendorCa; firmware?: Firmware } = {}): Promise<TpmDeviceIdentity> => {
    const made = await manufactureTpmDevice(
      join(dir, name),
      options.vendor ?? vendor,
      pki.manufacturerCa,
      options.firmware ? { firmware: options.firmware } : {},
    );
    const claimed = await call('PUT', `/v1/devices/${made.deviceId}/claim`, tenantToken);
    provisionUpdateRoot(made.security.store, made.deviceId, claimed!['updateRoot']!);
    return made;
  };

  const run = (made: TpmDeviceIdentity, options: { env?: DeviceEnvironment; updates?: boolean; rate?: number } = {}): TpmFleetDevice => {
    const env = options.env ?? realEnvironment;
    const base = tpmDeviceIdentity(made, pki.platformCa.certificatePem);
    const identity = { ...base, attestor: new MisbehavingTpmAttestor(base.attestor) };
    const verdicts: AttestationOutcome[] = [];
    let waiters: Array<(outcome: AttestationOutcome) => void> = [];
    const device = new EmulatedDevice(
      {
        deviceId: made.deviceId,
        endpoint: { kind: 'tls', host: '127.0.0.1', port: gatewayPort, servername: 'localhost' },
        identity,
        ratePerSecond: options.rate ?? 0,
        metricsPerReading: 1,
        os: (sinks) => new SecureOs(made.security, env, sinks, { healthWindowMs: 500 }),
        ...(options.updates ? { updates: { server: { host: '127.0.0.1', port: updatesDevicePort, servername: 'localhost' } } } : {}),
        onAttestation: (outcome) => {
          verdicts.push(outcome);
          const told = waiters;
          waiters = [];
          for (const resolve of told) resolve(outcome);
        },
      },
      env,
    );
    running.push(device);
    return {
      device,
      attestor: identity.attestor,
      made,
      verdicts,
      next: () => new Promise((resolve) => waiters.push(resolve)),
    };
  };

  async function updates(method: string, path: string, body?: unknown): Promise<any> {
    const answer = await callApi(updatesUrl, tenantToken, method, path, body);
    expect(answer.status, `${method} ${path}`).toBeLessThan(300);
    return answer.body;
  }

  const refused = (reason: string) => ({ pass: false, reasons: [reason] });
  /** `verdict`, or a failure naming the step that had none within 20 s. */
  const within = <T>(verdict: Promise<T>, step: string, device?: EmulatedDevice): Promise<T> =>
    Promise.race([
      verdict,
      new Promise<T>((_, reject) =>
        setTimeout(
          () => reject(new Error(`no verdict for ${step} within 20 s${device ? `: ${JSON.stringify(device.stats)}` : ''}`)),
          20_000,
        ).unref(),
      ),
    ]);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-e2e-tpm-'));
    db = await createTestDatabase();
    pki = await createTestPki();
    const vendorCa = await (await CertificateAuthority.create('Test TPM Vendor Root')).export();
    vendor = await storeTpmVendorCa(join(dir, 'vendor'), vendorCa);
    const vendorFile = join(dir, 'tpm-vendor-roots.pem');
    await writeFile(vendorFile, vendor.certificatePem);
    const operatorToken = randomBytes(24).toString('hex');
    const common = { DATABASE_URL: db.url, NATS_URL: TEST_NATS_URL, BUS_PREFIX: prefix };
    const [attestation, telemetry, gateway, failures] = await Promise.all([
      startAttestationWithTenant(
        {
          ...attestationTestEnv({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, pki, operatorToken }),
          TPM_VENDOR_CA_FILE: vendorFile,
        },
        operatorToken,
      ),
      startTelemetryProcess('telemetry', { ...common, INGEST_FLUSH_MS: '50' }),
      // The attack cases re-attest one device a dozen times in seconds (and it retries each refusal): above the default per-device budget.
      startGatewayProcess('gateway', { NATS_URL: TEST_NATS_URL, BUS_PREFIX: prefix, ...gatewayTlsEnv(pki), ATTEST_BURST: '100' }),
      // The rollout's health gate asks the failures service.
      startFailuresProcess('failures', { ...common, INGEST_FLUSH_MS: '20' }),
    ]);
    processes.push(attestation.process, telemetry.process, gateway.process, failures.process);
    call = attestation.call;
    tenantToken = attestation.tenantToken;
    gatewayPort = gateway.mqttPort;
    const updatesProcess = await startUpdatesProcess('updates', { ...common, ...updatesKeysEnv(pki), ROLLOUT_TICK_MS: '200' });
    processes.push(updatesProcess.process);
    updatesUrl = updatesProcess.url;
    updatesDevicePort = updatesProcess.devicePort;
  });

  afterAll(async () => {
    await Promise.all(running.map((device) => device.stop()));
    await Promise.all(processes.map((p) => p.stop()));
    await removeBusPrefix(prefix);
    await db?.drop();
    await pki?.remove();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it(`${FLEET} devices attest with quotes, connect on their LDevID, and their telemetry is stored`, async () => {
    const made = await inBatches(
      Array.from({ length: FLEET }, (_, i) => i),
      4,
      (i) => make(`device-${i}`),
    );
    const fleet = made.map((m) => run(m, { rate: 2 }));
    for (const { device } of fleet) device.start();
    await waitFor(() => fleet.every(({ device }) => device.attested), { timeoutMs: 40_000, describe: 'every TPM device attested' });
    for (const { verdicts } of fleet) expect(verdicts[0]).toEqual({ pass: true });
    await waitFor(
      async () => {
        const rows = await queryDatabase<{ devices: string }>(
          db.url,
          `SELECT count(*) AS devices FROM (SELECT device_id FROM telemetry.readings WHERE device_id = ANY($1)
             GROUP BY device_id HAVING count(DISTINCT seq) >= $2) AS enough`,
          [made.map((m) => m.deviceId), READINGS],
        );
        return Number(rows[0]!.devices) === FLEET;
      },
      { timeoutMs: 20_000, intervalMs: 250, describe: 'every TPM device’s readings stored' },
    );
    const log = (await call('GET', '/v1/attestations?limit=100', tenantToken)) as unknown as Array<{
      deviceId: string;
      pass: boolean;
      kind: string;
    }>;
    for (const m of made) expect(log).toContainEqual(expect.objectContaining({ deviceId: m.deviceId, pass: true, kind: 'tpm2-quote' }));
    await Promise.all(fleet.map(({ device }) => device.stop()));
  });

  it('refuses a stage not known-good, a replayed quote, an AK not bound to the EK, an event log that does not replay, an untrusted EK', async () => {
    const unknownVendorCa = await (await CertificateAuthority.create('Unknown TPM Vendor')).export();
    // Signed by the platform key, but never released: its measurement is not on the known-good list.
    const unreleased = { ...demoFirmware(), os: platformImage('os', '9.9.9', 1, demoFirmwareSigners(), DEMO_HARDWARE) };
    const [honestId, tamperedId, strangerId, offVendorId] = await Promise.all([
      make('honest'),
      make('tampered', { firmware: unreleased }),
      make('stranger'),
      make('off-vendor', { vendor: await storeTpmVendorCa(join(dir, 'off-vendor-ca'), unknownVendorCa) }),
    ]);
    const [honest, tampered, stranger, offVendor] = [run(honestId), run(tamperedId), run(strangerId), run(offVendorId)];
    const first = (d: TpmFleetDevice) => {
      const verdict = d.next();
      d.device.start();
      return verdict;
    };
    const again = (d: TpmFleetDevice) => {
      const verdict = d.next();
      void d.device.reboot();
      return verdict;
    };

    // A stage whose measurement is not known-good; and a TPM whose EK certificate comes from a vendor the platform
    // does not trust (refused at the first message).
    const [tamperedVerdict, offVendorVerdict, honestVerdict] = await Promise.all([
      within(first(tampered), 'the tampered device'),
      within(first(offVendor), 'the off-vendor device'),
      within(first(honest), 'the honest device'),
    ]);
    expect(tamperedVerdict).toMatchObject(refused(AttestationReason.measurementUnknown));
    expect(offVendorVerdict).toMatchObject(refused(AttestationReason.ekUntrusted));
    await Promise.all([tampered.device.stop(), offVendor.device.stop()]);

    // A quote that passed once, sent again in answer to a new challenge (after a reboot).
    expect(honestVerdict).toEqual({ pass: true });
    const passed = honest.attestor.lastEvidence!;
    honest.attestor.hooks = { evidence: () => passed };
    expect(await within(again(honest), 'honest attempt 1', honest.device)).toMatchObject(refused(AttestationReason.nonceReplayed));

    // Another TPM's AK beside this TPM's EK: the credential is for a key the EK's TPM does not hold, so the nonce
    // stays unknown. Quoting with its own AK under the other's name fails the signature; the other TPM's quote
    // carries a guessed nonce.
    stranger.device.start();
    await waitFor(() => stranger.device.attested, { timeoutMs: 20_000, describe: 'the stranger attested' });
    const strangerAk = (JSON.parse(await stranger.attestor.request()) as Tpm2AttestRequest).akPublic;
    const withStrangerAk = {
      request: (request: Tpm2AttestRequest) => ({ ...request, akPublic: strangerAk }),
      activate: () => Promise.resolve(randomBytes(32)),
    };
    honest.attestor.hooks = withStrangerAk;
    expect(await within(again(honest), 'honest attempt 2', honest.device)).toMatchObject(refused(AttestationReason.quoteInvalid));
    const guessed = await (await stranger.attestor.tpm()).quote(QUOTED_PCRS, randomBytes(32));
    honest.attestor.hooks = {
      ...withStrangerAk,
      evidence: (evidence) => ({
        ...evidence,
        quote: guessed.quote.toString('base64url'),
        signature: guessed.signature.toString('base64url'),
      }),
    };
    expect(await within(again(honest), 'honest attempt 3', honest.device)).toMatchObject(refused(AttestationReason.akNotBound));

    await stranger.device.stop();

    // The device sends the event log of the tampered device's boot (another OS): it does not replay to its own quote.
    const tamperedLog = tampered.attestor.lastEvidence!.eventLog;
    honest.attestor.hooks = { evidence: (evidence) => ({ ...evidence, eventLog: tamperedLog }) };
    expect(await within(again(honest), 'honest attempt 4', honest.device)).toMatchObject(refused(AttestationReason.eventLogInvalid));

    // Honest again: it attests on its next boot.
    honest.attestor.hooks = {};
    expect(await within(again(honest), 'honest attempt 5', honest.device)).toEqual({ pass: true });
    await honest.device.stop();

    // Every refusal is in the attestation log with its reason.
    const log = (await call('GET', '/v1/attestations?limit=100', tenantToken)) as unknown as Array<{
      deviceId: string;
      pass: boolean;
      reasons: string[];
    }>;
    for (const [device, reason] of [
      [tampered, AttestationReason.measurementUnknown],
      [honest, AttestationReason.nonceReplayed],
      [honest, AttestationReason.quoteInvalid],
      [honest, AttestationReason.akNotBound],
      [honest, AttestationReason.eventLogInvalid],
      [offVendor, AttestationReason.ekUntrusted],
    ] as const) {
      expect(log).toContainEqual(
        expect.objectContaining({ deviceId: device.made.deviceId, pass: false, reasons: [reason], kind: 'tpm2-quote' }),
      );
    }
  });

  it('renews its LDevID at 80 % of its lifetime with a new quote, on the connection it has', async () => {
    const d = run(await make('renewing'), { env: renewalSoon });
    d.device.start();
    await waitFor(() => d.device.attested, { timeoutMs: 20_000, describe: 'first attestation' });
    const firstCertificate = d.device.operationalCertificate!.certificatePem;
    const firstQuote = d.attestor.lastEvidence!.quote;
    const reconnects = d.device.stats.reconnects;
    await waitFor(() => d.verdicts.length >= 2, { timeoutMs: 20_000, describe: 'the renewal' });
    // On the connection it has: no reconnect, no failed connect, between the first attestation and the renewal.
    expect(d.device.stats.reconnects).toBe(reconnects);
    expect(d.device.stats.connectFailures).toBe(0);
    expect(d.verdicts.slice(0, 2)).toEqual([{ pass: true }, { pass: true }]);
    expect(d.device.operationalCertificate!.certificatePem).not.toBe(firstCertificate);
    expect(d.attestor.lastEvidence!.quote).not.toBe(firstQuote);
    expect(d.device.stats.reboots).toBe(0);
    await d.device.stop();
  });

  it('takes a signed OS update from the updates service, and the boot after it is quoted with the new OS and accepted', async () => {
    const product = (await updates('POST', '/v1/products', { name: 'Linux gateway' })) as { groups: Array<{ id: string; name: string }> };
    const group = product.groups.find((g) => g.name === 'Production')!.id;
    const made = await make('updating');
    await updates('PUT', `/v1/device-groups/${group}/devices/${made.deviceId}`);
    const d = run(made, { updates: true });
    d.device.start();
    await waitFor(() => d.device.attested, { timeoutMs: 20_000, describe: 'first attestation' });
    expect(d.device.os!.booted.versions.os).toBe('1.0.0');

    const os = platformImage('os', '2.0.0', 2, demoFirmwareSigners(), DEMO_HARDWARE);
    const uploaded = (await updates('POST', '/v1/images', encodeImage(os))) as { sha256: string };
    await updates('POST', `/v1/images/${uploaded.sha256}/release`);
    const deployment = (await updates('POST', '/v1/deployments', {
      groupId: group,
      images: [uploaded.sha256],
      rollout: { waves: { kind: 'percent', percents: [100] }, deviceTimeoutMinutes: 1 },
    })) as { id: string };
    const status = () => updates('GET', `/v1/deployments/${deployment.id}`) as Promise<{ deployment: { state: string } }>;
    // The rollout engine notifies on its tick and the device installs between checks: under a loaded CI box the
    // notification alone took 30 s once.
    await waitFor(async () => (await status()).deployment.state === 'completed', {
      timeoutMs: 90_000,
      intervalMs: 250,
      describe: async () => `the OS deployment completed: ${JSON.stringify(await status())}, device ${JSON.stringify(d.device.stats)}`,
    });
    await waitFor(() => d.device.attested && d.device.os!.booted.versions.os === '2.0.0', {
      timeoutMs: 15_000,
      describe: 'attested on the new OS',
    });
    expect(d.device.stats.updatesInstalled).toBeGreaterThanOrEqual(1);
    // The quote after the update's boot: its event log names the new OS's measurement, and the platform passed it.
    const log = Buffer.from(d.attestor.lastEvidence!.eventLog, 'base64url');
    expect(log.includes(Buffer.from(measureImage(os), 'hex'))).toBe(true);
    expect(d.verdicts.every((v) => v.pass)).toBe(true);
    expect(d.verdicts.length).toBeGreaterThanOrEqual(2);
    await d.device.stop();
  });

  it('runs in the fleet runner beside MCUs: a kind mix, each attesting with its own evidence; restarted, with the same TPMs', async () => {
    const fleetRun = (durationMs: number, tpmDir: string) =>
      runFleet({
        devices: 3,
        ratePerDevice: 2,
        durationMs,
        metricsPerReading: 1,
        endpoint: { kind: 'tls', host: '127.0.0.1', port: gatewayPort, servername: 'localhost' },
        manufacturerCa: pki.manufacturerCa,
        gatewayCaPem: pki.platformCa.certificatePem,
        stateDir: join(dir, 'fleet-state'),
        tpm: { devices: 2, vendor, dir: tpmDir },
        beforeStart: async (devices) => {
          for (const device of devices) await call('PUT', `/v1/devices/${device.security.deviceId}/claim`, tenantToken);
        },
      });
    const report = await fleetRun(3_000, join(dir, 'fleet'));
    expect(report).toMatchObject({
      devices: 3,
      tpmDevices: 2,
      devicesConnected: 3,
      devicesAttested: 3,
      attestationFailures: 0,
      attestorErrors: 0,
    });
    expect(report.acknowledged).toBeGreaterThan(0);
    const log = (await call('GET', '/v1/attestations?limit=200', tenantToken)) as unknown as Array<{
      deviceId: string;
      pass: boolean;
      kind: string;
    }>;
    const kinds = report.deviceIds.map((id) => log.find((v) => v.deviceId === id && v.pass)?.kind);
    expect(kinds).toEqual(['tpm2-quote', 'tpm2-quote', 'psa-token']);
    // Restarted on its state (and another TPM folder, which a kept device does not use): the same devices, each with
    // the TPM its IDevID names, kept beside its state, attest again.
    const restarted = await fleetRun(1_000, join(dir, 'fleet-elsewhere'));
    expect(restarted.deviceIds).toEqual(report.deviceIds);
    expect(restarted).toMatchObject({ devicesAttested: 3, attestationFailures: 0, attestorErrors: 0 });
    await expect(access(join(dir, 'fleet-state', '0', 'tpm', 'state', 'tpm2-00.permall'))).resolves.toBeUndefined();
  });
});
