import type { PublishPacket } from 'aedes';
import { DenialReason, deviceTopic } from '@rampart/contracts';
import { TokenBucket } from '@rampart/service-kit';
import { describe, expect, it } from 'vitest';
import { Admission } from '../admission.js';
import { acl, admit, stripRetain } from './steps.js';

const deviceId = 'a'.repeat(64);
const other = 'b'.repeat(64);

function publish(retain: boolean): PublishPacket {
  return { cmd: 'publish', topic: deviceTopic(deviceId, 'telemetry'), payload: Buffer.from('{}'), qos: 1, retain, dup: false };
}

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
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

  it('makes a QoS 1 message over the device rate wait for a token instead of shedding it', async () => {
    const clock = manualClock();
    // 1000 per second: the wait for the next token is 1 ms of real time.
    const bucket = new TokenBucket(1000, 1, clock.now());
    const admission = new Admission(10, 10);
    expect(await admit(bucket, 1, admission, clock)).toBeUndefined();
    expect(bucket.waitMs(clock.now())).toBe(1);
    expect(await admit(bucket, 1, admission, clock)).toBeUndefined();
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
