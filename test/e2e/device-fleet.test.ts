import { randomBytes } from 'node:crypto';
import { ReceivedFailureBatchSchema, Stream, Subject, type ReceivedFailureReport } from '@rampart/contracts';
import {
  EmulatedDevice,
  SecureOs,
  demoFirmwareSigners,
  encodeImage,
  manufactureDevice,
  realEnvironment,
  runFleet,
  sampleAppImage,
  DEMO_HARDWARE,
} from '@rampart/emulator';
import { NatsBus, TypedBus, decodeJson } from '@rampart/service-kit';
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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ServiceProcess,
  startAttestationWithTenant,
  type PlatformCall,
  startFailuresProcess,
  startGatewayProcess,
  startTelemetryProcess,
  gatewayTlsEnv,
} from '../support/service-process.js';

const DEVICES = 6;

/**
 * Emulated devices with the secure OS, end to end over real processes,
 * NATS and PostgreSQL: each device secure-boots its firmware (with the
 * sensor app 1.1.0), attests with the boot log it measured, and its app's
 * telemetry is stored. Device 0 runs the build with a 100 % crash rate: its
 * crash report — exit code, stack frames — reaches the FAILURES stream under
 * the device id the gateway certified.
 */
describe('a fleet with the secure OS and apps', () => {
  let db: TestDatabase;
  let pki: TestPki;
  let bus: NatsBus;
  const prefix = uniqueBusPrefix('e2e-os');
  const processes: ServiceProcess[] = [];

  let operatorToken: string;
  let tenantToken: string;
  let gateway: Awaited<ReturnType<typeof startGatewayProcess>>;
  let call: PlatformCall;

  beforeAll(async () => {
    db = await createTestDatabase();
    pki = await createTestPki();
    bus = await NatsBus.connect({ url: TEST_NATS_URL, prefix, name: 'device-fleet-test', onError: () => undefined });
    operatorToken = randomBytes(24).toString('hex');
    const attestation = await startAttestationWithTenant(
      attestationTestEnv({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, pki, operatorToken }),
      operatorToken,
    );
    processes.push(attestation.process);
    call = attestation.call;
    tenantToken = attestation.tenantToken;
    const telemetry = await startTelemetryProcess('telemetry', {
      DATABASE_URL: db.url,
      NATS_URL: TEST_NATS_URL,
      BUS_PREFIX: prefix,
      INGEST_FLUSH_MS: '50',
    });
    processes.push(telemetry.process);
    const failures = await startFailuresProcess('failures', {
      DATABASE_URL: db.url,
      NATS_URL: TEST_NATS_URL,
      BUS_PREFIX: prefix,
      INGEST_FLUSH_MS: '20',
    });
    processes.push(failures.process);
    gateway = await startGatewayProcess('gateway', {
      NATS_URL: TEST_NATS_URL,
      BUS_PREFIX: prefix,
      ...gatewayTlsEnv(pki),
    });
    processes.push(gateway.process);
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await bus?.drain();
    await removeBusPrefix(prefix);
    await db?.drop();
    await pki?.remove();
  });

  it('boots, attests, sends app telemetry, and the crashing app is reported', async () => {
    const reports: ReceivedFailureReport[] = [];
    const consumer = await bus.consumeDurable(
      {
        stream: Stream.failures.name,
        durable: 'e2e-failures',
        filterSubject: Subject.failuresReportReceived,
        maxAckPending: 100,
        ackWaitMs: 5_000,
      },
      (m) => {
        reports.push(...ReceivedFailureBatchSchema.parse(decodeJson(m.data)).reports);
        m.ack();
      },
    );
    let crashingDevice = '';
    const started = Date.now();
    const report = await runFleet({
      devices: DEVICES,
      ratePerDevice: 0, // the only telemetry is the sensor app's
      durationMs: 5_000,
      metricsPerReading: 1,
      endpoint: { kind: 'tls', host: '127.0.0.1', port: gateway.mqttPort, servername: 'localhost' },
      manufacturerCa: pki.manufacturerCa,
      gatewayCaPem: pki.platformCa.certificatePem,
      apps: ['sensor-1.1'],
      heartbeatIntervalMs: 1_000,
      appConfig: { sensor: { intervalMs: 250, crashRate: 0 } },
      deviceAppConfig: (i) => (i === 0 ? { sensor: { intervalMs: 250, crashRate: 1 } } : undefined),
      beforeStart: async (devices) => {
        crashingDevice = devices[0]!.security.deviceId;
        for (const device of devices) await call('PUT', `/v1/devices/${device.security.deviceId}/claim`, tenantToken);
      },
    });
    expect(report.devicesAttested).toBe(DEVICES);
    expect(report.attestationFailures).toBe(0);
    expect(report.unacknowledged).toBe(0);
    expect(report.failureReportsSent).toBeGreaterThanOrEqual(1);

    await waitFor(() => reports.some((r) => r.deviceId === crashingDevice), { timeoutMs: 10_000, describe: 'crash report in the stream' });
    await consumer.close();
    expect(reports.every((r) => r.deviceId === crashingDevice)).toBe(true);
    expect(reports[0]!.report).toMatchObject({ kind: 'app-crash', component: 'app:sensor', version: '1.1.0', exitCode: 1, signal: null });
    expect(reports[0]!.report.frames.map((f) => f.function)).toEqual(['smooth', 'tick']);

    // The failures service stored and bucketed the crash under the certified device and its tenant.
    const crashBuckets = () =>
      queryDatabase<{ reports: string; devices: string; title: string; tenant_id: string }>(
        db.url,
        `SELECT reports::text, devices::text, title, tenant_id FROM failures.buckets WHERE kind = 'app-crash'`,
      );
    await waitFor(async () => (await crashBuckets()).length > 0, { timeoutMs: 10_000, describe: 'crash bucket in the failures database' });
    expect(await crashBuckets()).toEqual([
      expect.objectContaining({ devices: '1', tenant_id: 'fleet', title: 'app-crash in app:sensor 1.1.0: smooth@app:sensor' }),
    ]);

    // Uptime heartbeats give the version's crash-free figures: every device ran it, all but the crashing one crash-free.
    expect(report.heartbeatsSent).toBeGreaterThanOrEqual(DEVICES);
    const stability = () =>
      new TypedBus(bus).request(Subject.failuresStabilityQuery, { tenantId: 'fleet', component: 'app:sensor', since: started - 60_000 });
    await waitFor(async () => (await stability()).cohorts[0]?.devices === DEVICES, {
      timeoutMs: 10_000,
      describe: 'every device in the cohort',
    });
    const [cohort] = (await stability()).cohorts;
    expect(cohort).toMatchObject({ version: '1.1.0', devices: DEVICES, crashFreeDevices: DEVICES - 1 });
    expect(cohort!.operatingHours).toBeGreaterThan(0);
    expect(cohort!.crashFreeHoursRatio).toBeLessThan(1);

    // Every healthy device's app readings are stored; the crashing one's first tick crashes before it publishes.
    await waitFor(
      async () => {
        const rows = await queryDatabase<{ devices: string }>(
          db.url,
          `SELECT count(DISTINCT device_id) AS devices FROM telemetry.readings WHERE metric = 'sensor.temperature'`,
        );
        return Number(rows[0]!.devices) === DEVICES - 1;
      },
      { timeoutMs: 20_000, intervalMs: 250, describe: 'app telemetry stored for every healthy device' },
    );
  });

  it('re-attests after a reboot and after the reboot of an update, reporting the new boot log', async () => {
    const made = await manufactureDevice(pki.manufacturerCa);
    await call('PUT', `/v1/devices/${made.security.deviceId}/claim`, tenantToken);
    const device = new EmulatedDevice(
      {
        deviceId: made.security.deviceId,
        endpoint: { kind: 'tls', host: '127.0.0.1', port: gateway.mqttPort, servername: 'localhost' },
        identity: {
          security: made.security,
          identityCertificatePem: made.identityCertificatePem,
          gatewayCaPem: pki.platformCa.certificatePem,
        },
        ratePerSecond: 0,
        metricsPerReading: 1,
        os: (sinks) =>
          new SecureOs(made.security, realEnvironment, sinks, { healthWindowMs: 500, appConfig: { sensor: { intervalMs: 200 } } }),
      },
      realEnvironment,
    );
    const passes = async () => {
      const log = (await call('GET', '/v1/attestations?limit=50', tenantToken)) as unknown as Array<{ deviceId: string; pass: boolean }>;
      return log.filter((v) => v.deviceId === made.security.deviceId && v.pass).length;
    };
    try {
      device.start();
      await waitFor(() => device.stats.attestations === 1 && device.attested, { timeoutMs: 15_000, describe: 'first attestation' });
      await device.reboot();
      await waitFor(() => device.stats.attestations === 2, { timeoutMs: 15_000, describe: 'attestation after reboot' });
      expect(device.os!.booted.versions.apps).toEqual({ sensor: '1.0.0' });

      const image = encodeImage(sampleAppImage('sensor-1.1', demoFirmwareSigners().apps, DEMO_HARDWARE));
      const outcome = await device.os!.update(() => Promise.resolve(image), { component: 'app:sensor', maxBytes: image.length });
      expect(outcome).toEqual({ result: 'committed', component: 'app:sensor', version: '1.1.0' });
      await waitFor(() => device.stats.attestations === 3, { timeoutMs: 15_000, describe: 'attestation after the update' });
      expect(device.os!.bootState.versions.apps).toEqual({ sensor: '1.1.0' });
      expect(await passes()).toBe(3);
      expect(device.stats.attestationFailures).toBe(0);
    } finally {
      await device.stop();
    }
  });
});
