import { TEST_NATS_URL, uniqueBusPrefix, waitFor } from '@rampart/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BusError, InProcessBus, NatsBus, type DurableMessage, type MessageBus } from '../src/index.js';

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (data: Uint8Array) => new TextDecoder().decode(data);

/**
 * One behaviour suite, run against both buses: the embedded mode must mean
 * the same thing as NATS + JetStream.
 */
type Create = (prefix: string) => Promise<MessageBus>;
/** A second replica's view of the same bus: another NATS connection, or the same in-process bus. */
type Peer = (bus: MessageBus, prefix: string) => Promise<MessageBus | undefined>;
const connectNats: Create = (prefix) =>
  NatsBus.connect({ url: TEST_NATS_URL, prefix, name: 'bus-contract-test', onError: () => undefined });
const implementations: Array<[string, Create, Peer]> = [
  ['InProcessBus', (prefix) => Promise.resolve(new InProcessBus(prefix)), () => Promise.resolve(undefined)],
  ['NatsBus', connectNats, (_bus, prefix) => connectNats(prefix)],
];

describe.each(implementations)('%s', (_name, create, peer) => {
  let bus: MessageBus;
  let other: MessageBus | undefined;
  let prefix: string;

  beforeEach(async () => {
    prefix = uniqueBusPrefix('bus');
    bus = await create(prefix);
  });

  afterEach(async () => {
    await bus.drain();
    await other?.drain();
    other = undefined;
  });

  it('answers a request from one member of a queue group', async () => {
    const answeredBy: string[] = [];
    bus.serve('svc.thing.get', 'svc', (data) => {
      answeredBy.push('a');
      return Promise.resolve(encode(`a:${decode(data)}`));
    });
    bus.serve('svc.thing.get', 'svc', (data) => {
      answeredBy.push('b');
      return Promise.resolve(encode(`b:${decode(data)}`));
    });
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => bus.request('svc.thing.get', encode(String(i)), 2_000)));
    expect(replies.map(decode).every((r) => /^[ab]:\d+$/.test(r))).toBe(true);
    expect(answeredBy).toHaveLength(20);
  });

  it('fails fast with UNAVAILABLE when nobody serves the subject', async () => {
    await expect(bus.request('svc.nobody.home', encode('x'), 2_000)).rejects.toMatchObject({ name: 'BusError', code: 'UNAVAILABLE' });
  });

  it('fails with TIMEOUT when the responder is too slow', async () => {
    bus.serve('svc.slow.op', 'svc', () => new Promise((resolve) => setTimeout(() => resolve(encode('late')), 500)));
    await expect(bus.request('svc.slow.op', encode('x'), 100)).rejects.toBeInstanceOf(BusError);
  });

  describe('durable streams', () => {
    const stream = { name: 'EVENTS', subjects: ['events.item.>'], maxAgeMs: 60_000, duplicateWindowMs: 60_000 };
    const consumer = { stream: 'EVENTS', durable: 'worker', filterSubject: 'events.item.>', maxAckPending: 100, ackWaitMs: 1_000 };

    it('delivers each stored message once per durable, dropping duplicate ids', async () => {
      await bus.ensureStream(stream);
      expect(await bus.publishDurable('events.item.created', encode('1'), { msgId: 'm1' })).toEqual({ duplicate: false });
      expect(await bus.publishDurable('events.item.created', encode('1'), { msgId: 'm1' })).toEqual({ duplicate: true });
      await bus.publishDurable('events.item.created', encode('2'), { msgId: 'm2' });
      const seen: string[] = [];
      const sub = await bus.consumeDurable(consumer, (m) => {
        seen.push(decode(m.data));
        m.ack();
      });
      await waitFor(() => seen.length === 2, { describe: 'two deliveries' });
      expect(seen.sort()).toEqual(['1', '2']);
      await sub.close();
    });

    it('redelivers a message that is nak-ed or never acknowledged', async () => {
      await bus.ensureStream(stream);
      await bus.publishDurable('events.item.created', encode('x'), { msgId: 'only' });
      const deliveries: DurableMessage[] = [];
      const sub = await bus.consumeDurable(consumer, (m) => {
        deliveries.push(m);
        if (deliveries.length === 1) m.nak();
        if (deliveries.length === 3) m.ack();
        // the second delivery is left unacknowledged: ack wait brings it back
      });
      await waitFor(() => deliveries.length >= 3, { timeoutMs: 10_000, describe: 'three deliveries' });
      expect(deliveries.map((d) => d.deliveryCount)).toEqual([1, 2, 3]);
      await sub.close();
    });

    it("lets only the owner change a stream's settings: a joining service leaves them as the owner set them", async () => {
      await bus.ensureStream({ ...stream, maxAgeMs: 7_200_000, duplicateWindowMs: 90_000 });
      expect(await bus.joinStream(stream)).toEqual({ created: false, maxAgeMs: 7_200_000, duplicateWindowMs: 90_000 });
      expect(await bus.joinStream(stream)).toMatchObject({ maxAgeMs: 7_200_000 });
      await bus.ensureStream(stream);
      expect(await bus.joinStream({ ...stream, maxAgeMs: 1 })).toEqual({ created: false, maxAgeMs: 60_000, duplicateWindowMs: 60_000 });
    });

    it('creates a missing stream for a joining service, which its owner then brings to its own settings', async () => {
      const early = { ...stream, name: 'EARLY', subjects: ['early.item.>'] };
      expect(await bus.joinStream(early)).toEqual({ created: true, maxAgeMs: 60_000, duplicateWindowMs: 60_000 });
      await bus.publishDurable('early.item.created', encode('kept'), { msgId: 'e1' });
      await bus.ensureStream({ ...early, maxAgeMs: 120_000 });
      expect(await bus.joinStream(early)).toEqual({ created: false, maxAgeMs: 120_000, duplicateWindowMs: 60_000 });
    });

    it('refuses to join a stream that does not capture the subjects the joining service needs', async () => {
      await bus.ensureStream(stream);
      await expect(bus.joinStream({ ...stream, subjects: ['events.other.>'] })).rejects.toBeInstanceOf(BusError);
    });

    it('shares one durable between replicas: each message goes to one of them', async () => {
      await bus.ensureStream(stream);
      other = await peer(bus, prefix);
      const replica = other ?? bus;
      const got: Array<[string, string]> = [];
      const subA = await bus.consumeDurable(consumer, (m) => {
        got.push(['a', decode(m.data)]);
        m.ack();
      });
      const subB = await replica.consumeDurable(consumer, (m) => {
        got.push(['b', decode(m.data)]);
        m.ack();
      });
      for (let i = 0; i < 50; i++) await bus.publishDurable('events.item.created', encode(String(i)), { msgId: `k${i}` });
      await waitFor(() => got.length >= 50, { describe: '50 deliveries' });
      expect(new Set(got.map(([, v]) => v)).size).toBe(50);
      await subA.close();
      await subB.close();
    });
  });
});
