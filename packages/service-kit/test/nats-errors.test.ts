import { AckPolicy, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { streamName } from '@rampart/contracts';
import { TEST_NATS_URL, removeBusPrefix, uniqueBusPrefix } from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyNatsError } from '../src/bus/nats-errors.js';

/** The error a call rejects with; a call that succeeds fails the test. */
async function failureOf(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  throw new Error('the call was expected to fail');
}

/** Each case provokes the failure from a real nats-server, so a nats.js upgrade that changes its errors shows here. */
describe(classifyNatsError.name, () => {
  const prefix = uniqueBusPrefix('nats-errors');
  const subject = (name: string) => `${prefix}.${name}`;
  const stream = streamName(prefix, 'PROBE');
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    nc = await connect({ servers: TEST_NATS_URL, noAsyncTraces: true });
    jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [subject('probe.>')] });
  });

  afterAll(async () => {
    await nc?.close();
    await removeBusPrefix(prefix);
  });

  it('knows a request nobody subscribes to as no-responders', async () => {
    const error = await failureOf(() => nc.request(subject('nobody'), new Uint8Array(), { timeout: 2_000 }));
    expect(classifyNatsError(error)).toBe('no-responders');
  });

  it('knows a request a subscriber never answers as a timeout', async () => {
    const silent = nc.subscribe(subject('silent'));
    try {
      await nc.flush();
      const error = await failureOf(() => nc.request(subject('silent'), new Uint8Array(), { timeout: 100 }));
      expect(classifyNatsError(error)).toBe('timeout');
    } finally {
      silent.unsubscribe();
    }
  });

  it('knows a missing stream as stream-not-found', async () => {
    const error = await failureOf(() => jsm.streams.info(streamName(prefix, 'ABSENT')));
    expect(classifyNatsError(error)).toBe('stream-not-found');
  });

  it('knows a consumer call on a missing stream as stream-not-found', async () => {
    const error = await failureOf(() => jsm.consumers.info(streamName(prefix, 'ABSENT'), 'durable'));
    expect(classifyNatsError(error)).toBe('stream-not-found');
  });

  it('knows a missing consumer as consumer-not-found', async () => {
    const error = await failureOf(() => jsm.consumers.info(stream, 'absent'));
    expect(classifyNatsError(error)).toBe('consumer-not-found');
  });

  it('knows an add of an existing stream with other settings as stream-name-in-use', async () => {
    const error = await failureOf(() => jsm.streams.add({ name: stream, subjects: [subject('probe.>')], max_age: 5_000_000_000 }));
    expect(classifyNatsError(error)).toBe('stream-name-in-use');
  });

  it('passes on other JetStream refusals and other errors as other', async () => {
    await jsm.consumers.add(stream, { durable_name: 'explicit', ack_policy: AckPolicy.Explicit });
    // JSConsumerCreateErrF: a consumer's ack policy cannot change.
    const refusal = await failureOf(() => jsm.consumers.add(stream, { durable_name: 'explicit', ack_policy: AckPolicy.None }));
    expect(classifyNatsError(refusal)).toBe('other');
    expect(classifyNatsError(new Error('timeout: not found, no responders, already in use'))).toBe('other');
  });
});
