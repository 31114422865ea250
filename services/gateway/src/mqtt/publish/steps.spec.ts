import type { PublishPacket } from 'aedes';
import { DenialReason, deviceTopic } from '@rampart/contracts';
import { TokenBucket } from '@rampart/service-kit';
import { describe, expect, it } from 'vitest';
import { Admission } from '../admission.js';
import { acl, admit, stripRetain, type AdmitTimer } from './steps.js';

const deviceId = 'a'.repeat(64);
const other = 'b'.repeat(64);

function publish(retain: boolean): PublishPacket {
  return { cmd: 'publish', topic: deviceTopic(deviceId, 'telemetry'), payload: Buffer.from('{}'), qos: 1, retain, dup: false };
}

/** A timer the test moves by hand: a sleep resolves only once the clock has been advanced past its end. */
function manualClock(start = 1_000_000): AdmitTimer & { advance: (ms: number) => void } {
  let t = start;
  const sleepers: Array<{ until: number; wake: () => void }> = [];
  return {
    now: () => t,
    sleep: (ms) => new Promise((wake) => sleepers.push({ until: t + ms, wake })),
    advance: (ms) => {
      t += ms;
      for (const sleeper of sleepers.filter((s) => s.until <= t)) {
        sleepers.splice(sleepers.indexOf(sleeper), 1);
        sleeper.wake();
      }
    },
  };
}

/** Lets every promise that can settle now settle. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe(acl.name, () => {
  it('lets an attested device publish telemetry under its own id, naming the kind', () => {
    expect(acl(deviceId, deviceTopic(deviceId, 'telemetry'), 'operational')).toEqual({ allowed: true, kind: 'telemetry' });
  });

  it("refuses another device's namespace", () => {
    expect(acl(deviceId, deviceTopic(other, 'telemetry'), 'operational')).toEqual({ allowed: false, reason: DenialReason.topicNotAllowed });
  });

  it('refuses a topic the contracts do not list', () => {
    expect(acl(deviceId, `devices/${deviceId}/shell`, 'operational')).toEqual({ allowed: false, reason: DenialReason.unknownTopic });
  });

  it('refuses telemetry from a device on its manufacturer identity', () => {
    expect(acl(deviceId, deviceTopic(deviceId, 'telemetry'), 'identity')).toEqual({ allowed: false, reason: DenialReason.notAttested });
  });
});

describe(stripRetain.name, () => {
  it('clears the retain flag and says so, so it is counted', () => {
    const packet = publish(true);
    expect(stripRetain(packet)).toBe(DenialReason.retainRefused);
    expect(packet.retain).toBe(false);
  });

  it('lets a message without the flag through untouched', () => {
    const packet = publish(false);
    expect(stripRetain(packet)).toBeUndefined();
    expect(packet.retain).toBe(false);
  });
});

describe(admit.name, () => {
  it('holds a bridge slot for a message within its rate', async () => {
    const clock = manualClock();
    const admission = new Admission(1, 1);
    expect(await admit(new TokenBucket(10, 1, clock.now()), 0, admission, clock)).toBeUndefined();
    expect(admission.active).toBe(1);
  });

  it('sheds a QoS 0 message over the device rate without taking a slot', async () => {
    const clock = manualClock();
    const bucket = new TokenBucket(10, 1, clock.now());
    const admission = new Admission(10, 10);
    expect(await admit(bucket, 0, admission, clock)).toBeUndefined();
    expect(await admit(bucket, 0, admission, clock)).toBe(DenialReason.rateLimited);
    expect(admission.active).toBe(1);
  });

  it('makes a QoS 1 message over the device rate wait for a token on the clock, then take a slot', async () => {
    const clock = manualClock();
    // One token per 10 s, burst 1: the next token is 10 s away on the clock, longer than the test may take in real time.
    const bucket = new TokenBucket(0.1, 1, clock.now());
    const admission = new Admission(10, 10);
    expect(await admit(bucket, 1, admission, clock)).toBeUndefined();
    let answered = false;
    const waiting = admit(bucket, 1, admission, clock).finally(() => (answered = true));
    await settle();
    expect(answered).toBe(false);
    expect(admission.active).toBe(1);
    clock.advance(9_999);
    await settle();
    expect(answered).toBe(false);
    clock.advance(1);
    expect(await waiting).toBeUndefined();
    expect(admission.active).toBe(2);
  });

  it('makes a QoS 1 message wait again when its token is gone after the wait, never shedding it (it is acknowledged)', async () => {
    const clock = manualClock();
    const bucket = new TokenBucket(1000, 1, clock.now());
    const admission = new Admission(10, 10);
    expect(await admit(bucket, 1, admission, clock)).toBeUndefined();
    let answered = false;
    const waiting = admit(bucket, 1, admission, clock).finally(() => (answered = true));
    await settle();
    clock.advance(1);
    // Someone else takes the token the wait was for, before the waiting message looks again.
    expect(bucket.tryTake(clock.now())).toBe(true);
    await settle();
    expect(answered).toBe(false);
    expect(admission.active).toBe(1);
    clock.advance(1);
    expect(await waiting).toBeUndefined();
    expect(admission.active).toBe(2);
  });

  it('sheds a QoS 0 message when every bridge slot is taken', async () => {
    const clock = manualClock();
    const admission = new Admission(1, 10);
    expect(admission.tryAcquire()).toBe(true);
    expect(await admit(undefined, 0, admission, clock)).toBe(DenialReason.overloaded);
  });

  it('queues a QoS 1 message for a slot, and sheds it once the queue is full', async () => {
    const clock = manualClock();
    const admission = new Admission(1, 1);
    expect(admission.tryAcquire()).toBe(true);
    const queued = admit(undefined, 1, admission, clock);
    expect(await admit(undefined, 1, admission, clock)).toBe(DenialReason.overloaded);
    admission.release();
    expect(await queued).toBeUndefined();
    expect(admission.active).toBe(1);
  });
});
