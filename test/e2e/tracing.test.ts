import { randomBytes } from 'node:crypto';
import { runFleet } from '@rampart/emulator';
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
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';
import {
  type ServiceProcess,
  gatewayTlsEnv,
  startAttestationWithTenant,
  startGatewayProcess,
  startTelemetryProcess,
} from '../support/service-process.js';

/**
 * One traced reading and one traced attestation, followed across processes
 * (the attestation: the evidence's envelope carries the device's context,
 * the NATS request's headers the gateway's). The reading: the device puts a W3C
 * traceparent in its MQTT payload (MQTT 3.1.1 has no headers), the gateway
 * continues the trace while the reading goes onto the JetStream stream
 * (whose message headers carry the batch's context), and the telemetry
 * service stores it in PostgreSQL under the same trace. The services
 * export over OTLP to a receiver in the test that keeps the spans.
 */
describe('tracing: a reading and an attestation, each from the device to PostgreSQL in one trace', () => {
  let db: TestDatabase;
  let pki: TestPki;
  let otlp: OtlpReceiver;
  const prefix = uniqueBusPrefix('trace');
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    [db, pki, otlp] = await Promise.all([createTestDatabase(), createTestPki(), OtlpReceiver.start()]);
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await otlp?.stop();
    await removeBusPrefix(prefix);
    await db?.drop();
    await pki?.remove();
  });

  it('joins the device, gateway, stream, telemetry service and database spans of a reading', async () => {
    const tracing = { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, TRACE_SAMPLE_RATIO: '1' };
    const operatorToken = randomBytes(24).toString('hex');
    const attestation = await startAttestationWithTenant(
      { ...attestationTestEnv({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, pki, operatorToken }), ...tracing },
      operatorToken,
    );
    processes.push(attestation.process);
    const telemetry = await startTelemetryProcess('telemetry', {
      DATABASE_URL: db.url,
      NATS_URL: TEST_NATS_URL,
      BUS_PREFIX: prefix,
      INGEST_FLUSH_MS: '50',
      ...tracing,
    });
    const gateway = await startGatewayProcess('gateway', {
      NATS_URL: TEST_NATS_URL,
      BUS_PREFIX: prefix,
      ...gatewayTlsEnv(pki),
      ...tracing,
    });
    processes.push(telemetry.process, gateway.process);

    const report = await runFleet({
      devices: 2,
      ratePerDevice: 4,
      durationMs: 3_000,
      metricsPerReading: 2,
      traceSampleRatio: 1,
      endpoint: { kind: 'tls', host: '127.0.0.1', port: gateway.mqttPort, servername: 'localhost' },
      manufacturerCa: pki.manufacturerCa,
      gatewayCaPem: pki.platformCa.certificatePem,
      beforeStart: async (devices) => {
        for (const d of devices) await attestation.call('PUT', `/v1/devices/${d.security.deviceId}/claim`, attestation.tenantToken);
      },
    });
    expect(report.acknowledged).toBeGreaterThan(0);

    // A complete chain: gateway receive (child of the device's span) → telemetry store → PostgreSQL insert.
    const chain = (): { receive: ReceivedSpan; store: ReceivedSpan; insert: ReceivedSpan } | undefined => {
      for (const receive of otlp.spans.filter((s) => s.name === 'telemetry receive')) {
        const store = otlp.spans.find((s) => s.name === 'telemetry store' && s.parentSpanId === receive.spanId);
        const insert = store && otlp.spans.find((s) => s.name === 'INSERT telemetry.readings' && s.parentSpanId === store.spanId);
        if (store !== undefined && insert !== undefined) return { receive, store, insert };
      }
      return undefined;
    };
    await waitFor(() => chain() !== undefined, { timeoutMs: 30_000, intervalMs: 500, describe: 'a traced reading exported end to end' });
    const { receive, store, insert } = chain()!;
    expect(receive).toMatchObject({ service: 'gateway' });
    // The device's own span is the root: its id is the gateway span's parent, and nobody exports it.
    expect(receive.parentSpanId).toMatch(/^[0-9a-f]{16}$/);
    expect(otlp.spans.some((s) => s.spanId === receive.parentSpanId)).toBe(false);
    expect(store).toMatchObject({ service: 'telemetry', traceId: receive.traceId });
    expect(insert).toMatchObject({ service: 'telemetry', traceId: receive.traceId });
    // The stream hop: the store span links to the batch write, which links to the gateway's publish of the batch.
    const write = otlp.spans.find((s) => s.name === 'telemetry.batch write' && store.links.includes(s.spanId));
    expect(write).toBeDefined();
    const publish = otlp.spans.find((s) => s.name === 'telemetry.batch publish' && write!.links.includes(s.spanId));
    expect(publish).toMatchObject({ service: 'gateway' });
  });

  it("joins the device's attestation, the gateway, the attestation service's handling and its database write", async () => {
    // The same run: every device attested with a traced evidence message.
    const chain = (): { receive: ReceivedSpan; handle: ReceivedSpan; insert: ReceivedSpan } | undefined => {
      for (const receive of otlp.spans.filter((s) => s.name === 'attestation receive')) {
        const handle = otlp.spans.find((s) => s.name.endsWith(' handle') && s.parentSpanId === receive.spanId);
        const insert = handle && otlp.spans.find((s) => s.name === 'INSERT attestation.certificates' && s.parentSpanId === handle.spanId);
        if (handle !== undefined && insert !== undefined) return { receive, handle, insert };
      }
      return undefined;
    };
    await waitFor(() => chain() !== undefined, {
      timeoutMs: 30_000,
      intervalMs: 500,
      describe: 'a traced attestation exported end to end',
    });
    const { receive, handle, insert } = chain()!;
    expect(receive).toMatchObject({ service: 'gateway' });
    expect(otlp.spans.some((s) => s.spanId === receive.parentSpanId)).toBe(false);
    expect(handle).toMatchObject({ service: 'attestation', traceId: receive.traceId, name: 'attestation.evidence.verify handle' });
    expect(insert).toMatchObject({ service: 'attestation', traceId: receive.traceId });
  });
});
