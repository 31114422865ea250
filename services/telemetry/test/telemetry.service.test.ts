import { randomBytes } from 'node:crypto';
import { loadAttestationConfig, startAttestation, type RunningAttestation } from '@rampart/attestation';
import { ErrorCode, Stream, Subject, type TelemetryReading } from '@rampart/contracts';
import { NatsBus, TypedBus, createLogger, encodeJson } from '@rampart/service-kit';
import {
  TEST_NATS_URL,
  attestationTestEnv,
  createTestDatabase,
  createTestPki,
  createTestTenants,
  uniqueBusPrefix,
  waitFor,
  type TestDatabase,
  type TestPki,
} from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTelemetryConfig } from '../src/telemetry/telemetry.config.js';
import { startTelemetry, type RunningTelemetry } from '../src/start-telemetry.js';

const device = (n: number) => n.toString(16).padStart(64, 'd');

describe('telemetry service', () => {
  let db: TestDatabase;
  let pki: TestPki;
  let attestation: RunningAttestation;
  let service: RunningTelemetry;
  let bus: NatsBus;
  let tokens: Readonly<Record<'acme' | 'globex' | 'acmeReader', string>>;
  const prefix = uniqueBusPrefix('tel');

  /** A REST call as acme's Reader unless another token (or null: none) is given. */
  function get(path: string, token: string | null = tokens.acmeReader): Promise<Response> {
    return fetch(`${service.url}${path}`, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
  }

  let batchSeq = 0;
  async function publish(...readings: TelemetryReading[]): Promise<void> {
    await bus.publishDurable(Subject.telemetryBatchReceived, encodeJson({ readings }), { msgId: `test:${batchSeq++}` });
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    pki = await createTestPki();
    const operator = randomBytes(24).toString('hex');
    attestation = await startAttestation(
      loadAttestationConfig(attestationTestEnv({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, pki, operatorToken: operator })),
      createLogger('attestation', 'silent'),
    );
    tokens = await createTestTenants(attestation.url, operator);
    bus = await NatsBus.connect({ url: TEST_NATS_URL, prefix, name: 'telemetry-test', onError: () => undefined });
    await bus.ensureStream({
      name: Stream.telemetry.name,
      subjects: Stream.telemetry.subjects,
      maxAgeMs: 3_600_000,
      duplicateWindowMs: 60_000,
    });
    const config = loadTelemetryConfig({
      DATABASE_URL: db.url,
      NATS_URL: TEST_NATS_URL,
      BUS_PREFIX: prefix,
      HTTP_PORT: '0',
      INGEST_FLUSH_MS: '20',
      INGEST_RETRY_DELAY_MS: '50',
    });
    service = await startTelemetry(config, createLogger('telemetry', 'silent'));
  });

  afterAll(async () => {
    await service?.close();
    await attestation?.close();
    await bus?.drain();
    await db?.drop();
    await pki?.remove();
  });

  it('stores readings from the stream and answers REST queries', async () => {
    const now = Date.now();
    for (let seq = 0; seq < 5; seq++)
      await publish({ deviceId: device(1), tenantId: 'acme', seq, ts: now - 5000 + seq, receivedAt: now, metrics: { temp: seq } });
    await waitFor(async () => (await service.repository.storedForDevices([device(1)])).readingsStored === 5, {
      describe: '5 stored readings',
    });
    const latest = (await (await get(`/v1/devices/${device(1)}/telemetry/latest`)).json()) as {
      metrics: Array<{ value: number }>;
    };
    expect(latest.metrics).toEqual([{ metric: 'temp', value: 4, ts: now - 5000 + 4 }]);
    const range = (await (await get(`/v1/devices/${device(1)}/telemetry?metric=temp&from=${now - 10_000}`)).json()) as {
      points: unknown[];
    };
    expect(range.points).toHaveLength(5);
    const stats = (await (await get(`/v1/telemetry/stats`)).json()) as { readingsStored: number };
    expect(stats.readingsStored).toBeGreaterThanOrEqual(5);
    const openapi = (await (await fetch(`${service.url}/docs/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toContain('/v1/devices/{deviceId}/telemetry/latest');
  });

  it('answers bus requests validated against the contracts', async () => {
    const typed = new TypedBus(bus);
    const reply = await typed.request(Subject.telemetryDeviceLatest, { deviceId: device(1) });
    expect(reply.deviceId).toBe(device(1));
    expect(reply.metrics.length).toBe(1);
    const raw = JSON.parse(
      new TextDecoder().decode(await bus.request(Subject.telemetryDeviceLatest, encodeJson({ deviceId: 'nope' }), 2000)),
    ) as {
      ok: boolean;
      error: { code: string };
    };
    expect(raw).toMatchObject({ ok: false, error: { code: ErrorCode.badRequest } });
  });

  it('refuses bad query input with 400 and a reason', async () => {
    const response = await get(`/v1/devices/${device(1)}/telemetry?metric=TEMP;DROP&limit=-1`);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { code: string; details: string[] };
    expect(body.code).toBe('BAD_REQUEST');
    expect(body.details.join(' ')).toMatch(/metric/);
    expect((await get(`/v1/devices/xyz/telemetry/latest`)).status).toBe(400);
  });

  it('terminates a poison message without blocking the readings behind it', async () => {
    await bus.publishDurable(Subject.telemetryBatchReceived, new TextEncoder().encode('{"not":"a reading"}'), { msgId: 'poison-1' });
    const now = Date.now();
    await publish({ deviceId: device(2), tenantId: 'acme', seq: 1, ts: now, receivedAt: now, metrics: { temp: 1 } });
    await waitFor(async () => (await service.repository.storedForDevices([device(2)])).readingsStored === 1, {
      describe: 'reading after poison',
    });
    expect(service.ingest.counters.poison).toBe(1);
  });

  it('answers 401 without a valid tenant token, on every /v1 route', async () => {
    const paths = [
      `/v1/devices/${device(1)}/telemetry/latest`,
      `/v1/devices/${device(1)}/telemetry?metric=temp`,
      '/v1/telemetry/devices',
      '/v1/telemetry/aggregate?metric=temp',
      '/v1/telemetry/stats',
    ];
    for (const path of paths) {
      expect((await get(path, null)).status, path).toBe(401);
      expect((await get(path, 'not-a-token-but-long-enough')).status, path).toBe(401);
    }
  });

  it("shows a tenant its own devices and readings only; another tenant's device answers 404", async () => {
    const now = Date.now();
    await publish(
      { deviceId: device(10), tenantId: 'acme', seq: 1, ts: now, receivedAt: now, metrics: { secret: 42 } },
      { deviceId: device(11), tenantId: 'globex', seq: 1, ts: now, receivedAt: now, metrics: { secret: 7 } },
    );
    await waitFor(async () => (await service.repository.storedForDevices([device(10), device(11)])).readingsStored === 2, {
      describe: 'readings of both tenants stored',
    });
    const acmeDevices = (await (await get('/v1/telemetry/devices', tokens.acme)).json()) as Array<{ deviceId: string }>;
    const globexDevices = (await (await get('/v1/telemetry/devices', tokens.globex)).json()) as Array<{ deviceId: string }>;
    expect(acmeDevices.map((d) => d.deviceId)).toContain(device(10));
    expect(acmeDevices.map((d) => d.deviceId)).not.toContain(device(11));
    expect(globexDevices.map((d) => d.deviceId)).toEqual([device(11)]);

    expect((await get(`/v1/devices/${device(10)}/telemetry/latest`, tokens.globex)).status).toBe(404);
    expect((await get(`/v1/devices/${device(10)}/telemetry?metric=secret&from=${now - 1000}`, tokens.globex)).status).toBe(404);
    expect((await get(`/v1/devices/${device(11)}/telemetry/latest`, tokens.globex)).status).toBe(200);

    const aggregate = (await (await get(`/v1/telemetry/aggregate?metric=secret&from=${now - 60_000}`, tokens.globex)).json()) as {
      buckets: Array<{ devices: number; max: number }>;
    };
    expect(aggregate.buckets.map((b) => [b.devices, b.max])).toEqual([[1, 7]]);
    const stats = (await (await get('/v1/telemetry/stats', tokens.globex)).json()) as { devices: number; readingsStored: number };
    expect(stats).toMatchObject({ devices: 1, readingsStored: 1 });
  });

  it('reports ready only while its database answers', async () => {
    const ready = await get('/readyz', null);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, checks: { database: { ok: true } } });
    const metrics = await (await get('/metrics', null)).text();
    expect(metrics).toMatch(/rampart_telemetry_rows_stored_total/);
  });
});
