import { InProcessBus, decodeJson } from '@rampart/service-kit';
import { Stream, Subject } from '@rampart/contracts';
import { describe, expect, it } from 'vitest';
import { TelemetryBridge } from './telemetry-bridge.js';

const deviceId = 'c'.repeat(64);
const now = 1_800_000_000_000;
const clock = { now: () => now };

async function bridgeWithConsumer(): Promise<{ bridge: TelemetryBridge; received: unknown[] }> {
  const bus = new InProcessBus();
  const bridge = new TelemetryBridge(bus, clock, { maxAgeMs: 60_000, duplicateWindowMs: 60_000 });
  await bridge.start();
  const received: unknown[] = [];
  await bus.consumeDurable(
    {
      stream: Stream.telemetry.name,
      durable: 'test',
      filterSubject: Subject.telemetryReadingReceived,
      maxAckPending: 100,
      ackWaitMs: 1000,
    },
    (m) => {
      received.push(decodeJson(m.data));
      m.ack();
    },
  );
  return { bridge, received };
}

describe(TelemetryBridge.name, () => {
  it('stores a valid reading with the device id from the connection, not the payload', async () => {
    const { bridge } = await bridgeWithConsumer();
    const outcome = await bridge.forward(deviceId, Buffer.from(JSON.stringify({ seq: 1, ts: now, metrics: { temp: 1 } })));
    expect(outcome).toEqual({ kind: 'stored', duplicate: false });
  });

  it('drops a resend of the same sequence number as a duplicate', async () => {
    const { bridge } = await bridgeWithConsumer();
    const payload = Buffer.from(JSON.stringify({ seq: 7, ts: now, metrics: { temp: 1 } }));
    await bridge.forward(deviceId, payload);
    expect(await bridge.forward(deviceId, payload)).toEqual({ kind: 'stored', duplicate: true });
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
    expect(await bridge.forward(deviceId, Buffer.from(payload))).toMatchObject({ kind: 'rejected', reason: 'malformed_payload' });
  });

  it('refuses readings from the far future or too far past', async () => {
    const { bridge } = await bridgeWithConsumer();
    const future = JSON.stringify({ seq: 1, ts: now + 10 * 60_000, metrics: { a: 1 } });
    const past = JSON.stringify({ seq: 2, ts: now - 25 * 3_600_000, metrics: { a: 1 } });
    expect(await bridge.forward(deviceId, Buffer.from(future))).toMatchObject({ reason: 'clock_skew' });
    expect(await bridge.forward(deviceId, Buffer.from(past))).toMatchObject({ reason: 'clock_skew' });
  });
});
