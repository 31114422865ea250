import { randomBytes } from 'node:crypto';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Durable, Stream, streamName, type StreamDefinition } from '@rampart/contracts';
import { NatsBus } from '@rampart/service-kit';
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
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ServiceProcess,
  gatewayTlsEnv,
  startAttestationProcess,
  startFailuresProcess,
  startGatewayProcess,
  startTelemetryProcess,
  startUpdatesProcess,
  updatesKeysEnv,
} from '../support/service-process.js';

const HOUR_MS = 3_600_000;

/**
 * Each JetStream stream has one owner (the contract names it), which sets its limits; every other service that
 * uses the stream checks it and leaves it alone. Before, each service wrote its own settings and the last to start
 * won: TELEMETRY's max age reverted whenever the telemetry service restarted.
 */
describe('stream ownership', () => {
  let db: TestDatabase;
  let pki: TestPki;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const prefixes: string[] = [];
  const running: ServiceProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    pki = await createTestPki();
    nc = await connect({ servers: TEST_NATS_URL });
    jsm = await jetstreamManager(nc);
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.stop()));
  });

  afterAll(async () => {
    await nc?.close();
    for (const prefix of prefixes) await removeBusPrefix(prefix);
    await db?.drop();
    await pki?.remove();
  });

  function newPrefix(): string {
    const prefix = uniqueBusPrefix('own');
    prefixes.push(prefix);
    return prefix;
  }

  async function limitsOf(prefix: string, stream: StreamDefinition): Promise<{ maxAgeMs: number; duplicateWindowMs: number }> {
    const { config } = await jsm.streams.info(streamName(prefix, stream.name));
    return { maxAgeMs: config.max_age / 1e6, duplicateWindowMs: config.duplicate_window / 1e6 };
  }

  /**
   * Resolves once a service has attached its durable to a stream, i.e. has opened the stream (services open their
   * streams after they log that they listen, so the log line alone proves nothing here).
   */
  async function attached(prefix: string, stream: StreamDefinition, durable: string): Promise<void> {
    await waitFor(
      () =>
        jsm.consumers.info(streamName(prefix, stream.name), durable).then(
          () => true,
          () => false,
        ),
      { describe: `durable ${durable} on ${stream.name}` },
    );
  }

  async function started<T extends { process: ServiceProcess }>(start: Promise<T>): Promise<T> {
    const service = await start;
    running.push(service.process);
    return service;
  }

  it("keeps the gateway's TELEMETRY max age however often the telemetry service restarts", async () => {
    const prefix = newPrefix();
    const common = { NATS_URL: TEST_NATS_URL, BUS_PREFIX: prefix };
    await started(startGatewayProcess('gateway', { ...common, ...gatewayTlsEnv(pki), TELEMETRY_STREAM_MAX_AGE_MS: String(2 * HOUR_MS) }));
    expect(await limitsOf(prefix, Stream.telemetry)).toEqual({
      maxAgeMs: 2 * HOUR_MS,
      duplicateWindowMs: Stream.telemetry.duplicateWindowMs,
    });
    for (let restart = 0; restart < 2; restart++) {
      const telemetry = await startTelemetryProcess('telemetry', { ...common, DATABASE_URL: db.url });
      await attached(prefix, Stream.telemetry, Durable.telemetryIngest);
      await telemetry.process.stop();
      // So the next start has to open the stream again before it can attach.
      await jsm.consumers.delete(streamName(prefix, Stream.telemetry.name), Durable.telemetryIngest);
      expect(await limitsOf(prefix, Stream.telemetry)).toMatchObject({ maxAgeMs: 2 * HOUR_MS });
    }
  });

  it('lets no service but the owner change a stream, whatever the start order', async () => {
    const prefix = newPrefix();
    const common = { NATS_URL: TEST_NATS_URL, BUS_PREFIX: prefix };
    // Streams as their owners were configured before (an operator's tuning, or an older release's defaults).
    const tuned = { maxAgeMs: 5 * HOUR_MS, duplicateWindowMs: 77_000 };
    const bus = await NatsBus.connect({ url: TEST_NATS_URL, prefix, name: 'stream-ownership-test', onError: () => undefined });
    try {
      for (const stream of Object.values(Stream)) await bus.ensureStream({ name: stream.name, subjects: stream.subjects, ...tuned });
    } finally {
      await bus.drain();
    }

    // Consumers first: the failures service reads FAILURES (the gateway's) and ATTESTATION_EVENTS (attestation's),
    // the telemetry service TELEMETRY (the gateway's).
    await started(startFailuresProcess('failures', { ...common, DATABASE_URL: db.url }));
    await started(startTelemetryProcess('telemetry', { ...common, DATABASE_URL: db.url }));
    await attached(prefix, Stream.failures, Durable.failuresIngest);
    await attached(prefix, Stream.failures, Durable.failuresStability);
    await attached(prefix, Stream.attestation, Durable.failuresAttestation);
    await attached(prefix, Stream.telemetry, Durable.telemetryIngest);
    for (const stream of [Stream.failures, Stream.attestation, Stream.telemetry]) expect(await limitsOf(prefix, stream)).toEqual(tuned);

    // The attestation service owns ATTESTATION_EVENTS (brought to the contract's limits) and only reads
    // UPDATES_EVENTS (left alone).
    const operatorToken = randomBytes(24).toString('hex');
    await started(
      startAttestationProcess(
        'attestation',
        attestationTestEnv({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, pki, operatorToken }),
      ),
    );
    await attached(prefix, Stream.updates, Durable.attestationKnownGood);
    expect(await limitsOf(prefix, Stream.attestation)).toEqual({
      maxAgeMs: Stream.attestation.maxAgeMs,
      duplicateWindowMs: Stream.attestation.duplicateWindowMs,
    });
    expect(await limitsOf(prefix, Stream.updates)).toEqual(tuned);
    expect(await limitsOf(prefix, Stream.failures)).toEqual(tuned);

    // The updates service owns UPDATES_EVENTS and only reads ATTESTATION_EVENTS (tuned again here, as an operator
    // may, while its owner runs); the gateway owns FAILURES and TELEMETRY. Each brings its own streams to the
    // contract's limits and leaves the others as they stand.
    const tuner = await NatsBus.connect({ url: TEST_NATS_URL, prefix, name: 'stream-ownership-test', onError: () => undefined });
    try {
      await tuner.ensureStream({ name: Stream.attestation.name, subjects: Stream.attestation.subjects, ...tuned });
    } finally {
      await tuner.drain();
    }
    await started(startUpdatesProcess('updates', { ...common, DATABASE_URL: db.url, ...updatesKeysEnv(pki) }));
    await started(startGatewayProcess('gateway', { ...common, ...gatewayTlsEnv(pki) }));
    await attached(prefix, Stream.attestation, Durable.updatesTenantRepositories);
    for (const stream of [Stream.updates, Stream.failures, Stream.telemetry]) {
      await waitFor(() => limitsOf(prefix, stream).then((l) => l.maxAgeMs === stream.maxAgeMs), {
        describe: `${stream.name} at its owner's limits`,
      });
      expect(await limitsOf(prefix, stream)).toEqual({ maxAgeMs: stream.maxAgeMs, duplicateWindowMs: stream.duplicateWindowMs });
    }
    expect(await limitsOf(prefix, Stream.attestation)).toEqual(tuned);
  });

  it('a consumer that starts before any owner creates the streams it reads with the contract’s limits', async () => {
    const prefix = newPrefix();
    await started(startFailuresProcess('failures', { NATS_URL: TEST_NATS_URL, BUS_PREFIX: prefix, DATABASE_URL: db.url }));
    await attached(prefix, Stream.failures, Durable.failuresIngest);
    await attached(prefix, Stream.attestation, Durable.failuresAttestation);
    for (const stream of [Stream.failures, Stream.attestation]) {
      expect(await limitsOf(prefix, stream)).toEqual({ maxAgeMs: stream.maxAgeMs, duplicateWindowMs: stream.duplicateWindowMs });
    }
  });
});
