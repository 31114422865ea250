import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { InProcessBus, Observability, decodeJson, linkFromHeaders } from '@rampart/service-kit';
import { Stream, Subject } from '@rampart/contracts';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { StreamBatcher } from './stream-batcher.js';
import { StreamBridge, payloadRule } from './stream-bridge.js';
import { telemetryBridge, type TelemetryKind } from './telemetry-bridge.js';

const deviceId = 'c'.repeat(64);
const now = 1_800_000_000_000;
const clock = { now: () => now };
const spans = new InMemorySpanExporter();
const observability = new Observability({
  serviceName: 'test',
  traceSampleRatio: 1,
  spanProcessors: [new SimpleSpanProcessor({ exporter: spans })],
});
const headersSeen: Array<Readonly<Record<string, string>>> = [];

async function bridgeWithConsumer(): Promise<{
  bridge: StreamBridge<TelemetryKind>;
  received: Array<{ readings: Array<{ deviceId: string; seq: number }> }>;
}> {
  const bus = new InProcessBus();
  const bridge = telemetryBridge(
    bus,
    clock,
    { maxAgeMs: 60_000, duplicateWindowMs: 60_000, batch: { maxReadings: 3, maxDelayMs: 5 } },
    observability.tracer,
  );
  await bridge.start();
  const received: Array<{ readings: Array<{ deviceId: string; seq: number }> }> = [];
  await bus.consumeDurable(
    {
      stream: Stream.telemetry.name,
      durable: 'test',
      filterSubject: Subject.telemetryBatchReceived,
      maxAckPending: 100,
      ackWaitMs: 1000,
    },
    (m) => {
      received.push(decodeJson(m.data) as { readings: Array<{ deviceId: string; seq: number }> });
      headersSeen.push(m.headers);
      m.ack();
    },
  );
  return { bridge, received };
}

describe(`${StreamBridge.name} (telemetry)`, () => {
  it('stores a valid reading with the device id from the connection, not the payload', async () => {
    const { bridge, received } = await bridgeWithConsumer();
    const outcome = await bridge.forward(
      'telemetry',
      deviceId,
      null,
      Buffer.from(JSON.stringify({ seq: 1, ts: now, metrics: { temp: 1 } })),
    );
    expect(outcome).toEqual({ kind: 'stored' });
    await vi.waitFor(() =>
      expect(received.flatMap((b) => b.readings)).toEqual([{ deviceId, seq: 1, ts: now, receivedAt: now, metrics: { temp: 1 } }]),
    );
  });

  it("names the tenant of the device's operational certificate, so only that tenant sees the reading", async () => {
    const { bridge, received } = await bridgeWithConsumer();
    await bridge.forward('telemetry', deviceId, 'acme', Buffer.from(JSON.stringify({ seq: 2, ts: now, metrics: { temp: 1 } })));
    await vi.waitFor(() => expect(received.flatMap((b) => b.readings)).toEqual([expect.objectContaining({ deviceId, tenantId: 'acme' })]));
  });

  it('packs readings from many devices into one stream message, sent when full or after the delay', async () => {
    const { bridge, received } = await bridgeWithConsumer();
    const other = 'e'.repeat(64);
    const payload = (seq: number) => Buffer.from(JSON.stringify({ seq, ts: now, metrics: { temp: seq } }));
    // Three readings fill a batch (maxReadings 3); the fourth goes out on the 5 ms timer.
    await Promise.all([
      bridge.forward('telemetry', deviceId, null, payload(1)),
      bridge.forward('telemetry', other, null, payload(2)),
      bridge.forward('telemetry', deviceId, null, payload(3)),
      bridge.forward('telemetry', other, null, payload(4)),
    ]);
    await vi.waitFor(() => expect(received.map((b) => b.readings.length)).toEqual([3, 1]));
    expect(received[0]?.readings.map((r) => r.deviceId)).toEqual([deviceId, other, deviceId]);
  });

  it('carries the publishing span in the stream message, so the consumer can link to it', async () => {
    const { bridge, received } = await bridgeWithConsumer();
    spans.reset();
    headersSeen.length = 0;
    await bridge.forward('telemetry', deviceId, null, Buffer.from(JSON.stringify({ seq: 9, ts: now, metrics: { temp: 1 } })));
    await vi.waitFor(() => expect(received).toHaveLength(1));
    // The publish span ends once the stream has acknowledged the batch.
    const published = await vi.waitFor(() => {
      const span = spans.getFinishedSpans().find((s) => s.name === 'telemetry.batch publish');
      expect(span).toBeDefined();
      return span;
    });
    expect(linkFromHeaders(headersSeen[0] ?? {})?.context.spanId).toBe(published?.spanContext().spanId);
  });

  it.each([
    ['not JSON', 'not json{'],
    ['an extra field', JSON.stringify({ seq: 1, ts: now, metrics: { a: 1 }, deviceId: 'x' })],
    ['no metrics', JSON.stringify({ seq: 1, ts: now, metrics: {} })],
    ['a bad metric name', JSON.stringify({ seq: 1, ts: now, metrics: { 'DROP TABLE': 1 } })],
    ['a non-number value', JSON.stringify({ seq: 1, ts: now, metrics: { a: '1' } })],
    ['a negative seq', JSON.stringify({ seq: -1, ts: now, metrics: { a: 1 } })],
    [
      'a huge metric count',
      JSON.stringify({ seq: 1, ts: now, metrics: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`m${i}`, i])) }),
    ],
  ])('refuses a payload with %s', async (_label, payload) => {
    const { bridge } = await bridgeWithConsumer();
    expect(await bridge.forward('telemetry', deviceId, null, Buffer.from(payload))).toMatchObject({
      kind: 'rejected',
      reason: 'malformed_payload',
    });
  });

  it('refuses readings from the far future or too far past', async () => {
    const { bridge } = await bridgeWithConsumer();
    const future = JSON.stringify({ seq: 1, ts: now + 10 * 60_000, metrics: { a: 1 } });
    const past = JSON.stringify({ seq: 2, ts: now - 25 * 3_600_000, metrics: { a: 1 } });
    expect(await bridge.forward('telemetry', deviceId, null, Buffer.from(future))).toMatchObject({ reason: 'clock_skew' });
    expect(await bridge.forward('telemetry', deviceId, null, Buffer.from(past))).toMatchObject({ reason: 'clock_skew' });
  });

  it('stores an item that happens to have `reason` and `detail` fields: only a PayloadRefusal refuses', async () => {
    const bus = new InProcessBus();
    const notes = payloadRule({
      maxBytes: undefined,
      schema: z.object({ reason: z.string(), detail: z.string() }),
      batcher: new StreamBatcher<{ reason: string; detail: string }>(
        bus,
        { subject: Subject.telemetryBatchReceived, field: 'readings', maxItems: 1, spanName: 'notes publish' },
        { maxReadings: 1, maxDelayMs: 1 },
        observability.tracer,
      ),
      toItem: (_deviceId, _tenantId, _receivedAt, note) => note,
    });
    const bridge = new StreamBridge(bus, clock, { definition: Stream.telemetry }, { note: notes });
    await bridge.start();
    const note = JSON.stringify({ reason: 'maintenance', detail: 'fan replaced' });
    expect(await bridge.forward('note', deviceId, null, Buffer.from(note))).toEqual({ kind: 'stored' });
  });
});
