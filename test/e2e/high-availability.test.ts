import { randomBytes } from 'node:crypto';
import { runFleet, type FleetProgress, type FleetReport } from '@rampart/emulator';
import {
  attestationTestEnv,
  createTestDatabase,
  createTestPki,
  queryDatabase,
  uniqueBusPrefix,
  waitFor,
  type TestDatabase,
  type TestPki,
} from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsCluster } from '../support/nats-cluster.js';
import {
  type ServiceProcess,
  gatewayTlsEnv,
  scrapeMetric,
  startAttestationProcess,
  startAttestationWithTenant,
  startFailuresProcess,
  startGatewayProcess,
  startTelemetryProcess,
  startUpdatesProcess,
  updatesKeysEnv,
} from '../support/service-process.js';
import { TcpBalancer } from '../support/tcp-balancer.js';

const DEVICES = 12;
const METRICS_PER_READING = 2;

/**
 * The distributed topology the Helm chart installs, as processes on this
 * machine: two replicas of every service, NATS as a 3-node JetStream
 * cluster with every stream kept in 3 copies, PostgreSQL, and the gateway
 * replicas behind a TCP balancer (a Kubernetes Service). During a fleet
 * run one replica of each service and one NATS node are killed with
 * SIGKILL: the fleet keeps working, and every reading the gateway
 * acknowledged is stored exactly once.
 */
describe('high availability: two replicas of each service on a 3-node NATS cluster', () => {
  let db: TestDatabase;
  let pki: TestPki;
  let nats: NatsCluster;
  let balancer: TcpBalancer | undefined;
  const prefix = uniqueBusPrefix('ha');
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    [db, pki, nats] = await Promise.all([createTestDatabase(), createTestPki(), NatsCluster.start(3)]);
  });

  afterAll(async () => {
    await balancer?.stop();
    await Promise.all(
      processes.map(async (p) => {
        const slow = setTimeout(() => process.stderr.write(`${p.name} has not stopped after 20 s\n`), 20_000);
        await p.stop();
        clearTimeout(slow);
      }),
    );
    await nats?.stop();
    await db?.drop();
    await pki?.remove();
  });

  it('keeps the fleet working through the loss of one replica of each service and one NATS node, losing nothing acknowledged', async () => {
    const operatorToken = randomBytes(24).toString('hex');
    const bus = { NATS_URL: nats.url, BUS_PREFIX: prefix, STREAM_REPLICAS: '3' };
    const attestationEnv = { ...attestationTestEnv({ databaseUrl: db.url, natsUrl: nats.url, prefix, pki, operatorToken }), ...bus };
    const first = await startAttestationWithTenant(attestationEnv, operatorToken);
    processes.push(first.process);
    const common = { ...bus, DATABASE_URL: db.url };
    const updatesEnv = {
      ...common,
      ...updatesKeysEnv(pki),
    };
    const gatewayEnv = { ...bus, ...gatewayTlsEnv(pki), DEVICE_RATE_PER_SEC: '100', TELEMETRY_STREAM_MAX_AGE_MS: '600000' };
    const [second, telemetryA, telemetryB, failuresA, failuresB, updatesA, updatesB, gatewayA, gatewayB] = await Promise.all([
      startAttestationProcess('attestation-b', attestationEnv),
      startTelemetryProcess('telemetry-a', { ...common, INGEST_FLUSH_MS: '50', INGEST_ACK_WAIT_MS: '5000' }),
      startTelemetryProcess('telemetry-b', { ...common, INGEST_FLUSH_MS: '50', INGEST_ACK_WAIT_MS: '5000' }),
      startFailuresProcess('failures-a', { ...common, INGEST_FLUSH_MS: '20' }),
      startFailuresProcess('failures-b', { ...common, INGEST_FLUSH_MS: '20' }),
      startUpdatesProcess('updates-a', updatesEnv),
      startUpdatesProcess('updates-b', updatesEnv),
      startGatewayProcess('gateway-a', gatewayEnv),
      startGatewayProcess('gateway-b', gatewayEnv),
    ]);
    processes.push(...[second, telemetryA, telemetryB, failuresA, failuresB, updatesA, updatesB, gatewayA, gatewayB].map((s) => s.process));
    balancer = await TcpBalancer.start([gatewayA.mqttPort, gatewayB.mqttPort]);

    let progress: FleetProgress = { elapsedMs: 0, online: 0, attested: 0, published: 0, acknowledged: 0, pending: 0 };
    const fleet: Promise<FleetReport> = runFleet({
      devices: DEVICES,
      ratePerDevice: 10,
      durationMs: 30_000,
      metricsPerReading: METRICS_PER_READING,
      endpoint: { kind: 'tls', host: '127.0.0.1', port: balancer.port, servername: 'localhost' },
      manufacturerCa: pki.manufacturerCa,
      gatewayCaPem: pki.platformCa.certificatePem,
      reconnectSpreadMs: 2_000,
      onProgress: (p) => {
        progress = p;
      },
      beforeStart: async (devices) => {
        for (const d of devices) await first.call('PUT', `/v1/devices/${d.security.deviceId}/claim`, first.tenantToken);
      },
    });
    await waitFor(() => progress.attested === DEVICES && progress.acknowledged > 500, {
      timeoutMs: 60_000,
      describe: 'every device attested and sending',
    });
    // Every stream the services made is kept in 3 copies.
    const streams = await nats.streams();
    expect(streams.length).toBeGreaterThanOrEqual(3);
    for (const stream of streams) expect(stream, stream.name).toMatchObject({ replicas: 3 });
    // Both gateway replicas carry devices before one is lost.
    expect(await scrapeMetric(gatewayA.url, 'rampart_gateway_connections_active')).toBeGreaterThan(0);
    expect(await scrapeMetric(gatewayB.url, 'rampart_gateway_connections_active')).toBeGreaterThan(0);

    // One of each, at once, without warning.
    await Promise.all([
      first.process.stop('SIGKILL'),
      telemetryA.process.stop('SIGKILL'),
      failuresA.process.stop('SIGKILL'),
      updatesA.process.stop('SIGKILL'),
      gatewayA.process.stop('SIGKILL'),
      nats.kill(0),
    ]);
    const atKill = progress.acknowledged;
    await waitFor(() => progress.acknowledged > atKill + 1_000, { timeoutMs: 60_000, describe: 'the fleet sending again after the kills' });
    // The surviving replicas answer.
    for (const url of [second.url, telemetryB.url, failuresB.url, updatesB.url, gatewayB.url]) {
      await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, { timeoutMs: 30_000, describe: `${url} ready` });
    }

    const report = await fleet;
    expect(report.devicesAttested).toBe(DEVICES);
    expect(report.unacknowledged).toBe(0);
    expect(report.acknowledged).toBeGreaterThan(atKill + 1_000);

    const stored = async () =>
      (
        await queryDatabase<{ rows: string; distinct_readings: string }>(
          db.url,
          `SELECT (SELECT count(*) FROM telemetry.readings) AS rows,
                  (SELECT count(*) FROM (SELECT DISTINCT device_id, seq FROM telemetry.readings) d) AS distinct_readings`,
        )
      )[0]!;
    await waitFor(async () => Number((await stored()).distinct_readings) >= report.acknowledged, {
      timeoutMs: 90_000,
      intervalMs: 500,
      describe: `${report.acknowledged} acknowledged readings stored`,
    });
    const final = await stored();
    expect(Number(final.distinct_readings)).toBe(report.acknowledged);
    expect(Number(final.rows)).toBe(report.acknowledged * METRICS_PER_READING);
  });
});
