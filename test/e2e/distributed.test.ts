import { randomBytes } from 'node:crypto';
import { runFleet, type FleetProgress, type FleetReport } from '@rampart/emulator';
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
  scrapeMetric,
  startAttestationWithTenant,
  startGatewayProcess,
  startTelemetryProcess,
  gatewayTlsEnv,
} from '../support/service-process.js';

const METRICS_PER_READING = 4;

/**
 * The distributed topology as separate processes on real NATS (JetStream)
 * and PostgreSQL: the attestation service, one gateway, two telemetry
 * replicas sharing a durable consumer. Every device attests (IDevID → nonce
 * → evidence → LDevID) before its telemetry is accepted. Both telemetry
 * replicas are killed with SIGKILL mid-stream and one is restarted; every
 * reading the gateway acknowledged must end up stored exactly once.
 */
describe('distributed mode: kill the telemetry service mid-stream', () => {
  let db: TestDatabase;
  let pki: TestPki;
  const prefix = uniqueBusPrefix('e2e');
  const processes: ServiceProcess[] = [];
  let telemetryEnv: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    pki = await createTestPki();
    telemetryEnv = { DATABASE_URL: db.url, NATS_URL: TEST_NATS_URL, BUS_PREFIX: prefix, INGEST_FLUSH_MS: '50', INGEST_ACK_WAIT_MS: '5000' };
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await removeBusPrefix(prefix);
    await db?.drop();
    await pki?.remove();
  });

  it('attests every device, then stores every acknowledged reading exactly once', async () => {
    const operatorToken = randomBytes(24).toString('hex');
    const {
      process: attestationProcess,
      call,
      tenantToken,
    } = await startAttestationWithTenant(
      attestationTestEnv({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, pki, operatorToken }),
      operatorToken,
    );
    processes.push(attestationProcess);

    // Started together: they must agree on migrations without racing.
    const [a, b] = await Promise.all([
      startTelemetryProcess('telemetry-a', telemetryEnv),
      startTelemetryProcess('telemetry-b', telemetryEnv),
    ]);
    processes.push(a.process, b.process);
    const gateway = await startGatewayProcess('gateway', {
      NATS_URL: TEST_NATS_URL,
      BUS_PREFIX: prefix,
      ...gatewayTlsEnv(pki),
      DEVICE_RATE_PER_SEC: '100',
      TELEMETRY_STREAM_MAX_AGE_MS: '600000',
    });
    processes.push(gateway.process);

    let progress: FleetProgress = { elapsedMs: 0, online: 0, attested: 0, published: 0, acknowledged: 0, pending: 0 };
    const fleet: Promise<FleetReport> = runFleet({
      devices: 40,
      ratePerDevice: 20,
      durationMs: 16_000,
      metricsPerReading: METRICS_PER_READING,
      endpoint: { kind: 'tls', host: '127.0.0.1', port: gateway.mqttPort, servername: 'localhost' },
      manufacturerCa: pki.manufacturerCa,
      gatewayCaPem: pki.platformCa.certificatePem,
      onProgress: (p) => {
        progress = p;
      },
      beforeStart: async (devices) => {
        for (const device of devices) await call('PUT', `/v1/devices/${device.security.deviceId}/claim`, tenantToken);
      },
    });

    // Both replicas take a share of the stream before anything is killed.
    await waitFor(
      async () =>
        (await scrapeMetric(a.url, 'rampart_telemetry_readings_stored_total')) > 0 &&
        (await scrapeMetric(b.url, 'rampart_telemetry_readings_stored_total')) > 0,
      { timeoutMs: 20_000, intervalMs: 200, describe: 'both replicas storing' },
    );
    await a.process.stop('SIGKILL');
    const atFirstKill = progress.acknowledged;
    await waitFor(() => progress.acknowledged > atFirstKill + 2_000, { timeoutMs: 20_000, describe: 'more readings after the first kill' });
    await b.process.stop('SIGKILL');
    // No consumer at all now: the stream keeps what the gateway acknowledges.
    const atSecondKill = progress.acknowledged;
    await waitFor(() => progress.acknowledged > atSecondKill + 2_000, { timeoutMs: 20_000, describe: 'readings while no consumer runs' });
    const restarted = await startTelemetryProcess('telemetry-a2', telemetryEnv);
    processes.push(restarted.process);

    const report = await fleet;
    expect(report.devicesConnected).toBe(40);
    expect(report.devicesAttested).toBe(40);
    expect(report.attestationFailures).toBe(0);
    expect(report.unacknowledged).toBe(0);
    expect(report.acknowledged).toBe(report.published);

    const stored = async () =>
      (
        await queryDatabase<{ readings: string; rows: string; distinct_readings: string }>(
          db.url,
          `SELECT (SELECT coalesce(sum(readings), 0) FROM telemetry.device_last_seen) AS readings,
                  (SELECT count(*) FROM telemetry.readings) AS rows,
                  (SELECT count(*) FROM (SELECT DISTINCT device_id, seq FROM telemetry.readings) d) AS distinct_readings`,
        )
      )[0]!;
    await waitFor(async () => Number((await stored()).distinct_readings) >= report.acknowledged, {
      timeoutMs: 60_000,
      intervalMs: 250,
      describe: `${report.acknowledged} readings stored`,
    });
    const final = await stored();
    expect(Number(final.distinct_readings)).toBe(report.acknowledged);
    expect(Number(final.rows)).toBe(report.acknowledged * METRICS_PER_READING);
    expect(Number(final.readings)).toBe(report.acknowledged);
  });
});
