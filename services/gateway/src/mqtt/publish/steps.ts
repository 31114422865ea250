import type { PublishPacket } from 'aedes';
import { DenialReason, type DeviceCredential } from '@rampart/contracts';
import type { Clock, TokenBucket } from '@rampart/service-kit';
import type { Admission } from '../admission.js';
import { authorizeDevicePublish, type PublishDecision } from '../device-acl.js';

/*
 * A device PUBLISH goes through these steps in order: acl → stripRetain →
 * admit → route. Each answers "go on" or why not; the authorizePublish hook
 * counts, logs and answers the device from DENIAL_RESPONSES.
 */

/** Step 1: the device's own topics that its credential allows; the kind of message, or why it is refused. */
export function acl(deviceId: string, topic: string, credential: DeviceCredential): PublishDecision {
  return authorizeDevicePublish(deviceId, topic, credential);
}

/**
 * Step 2: retained device messages would outlive the device's session and
 * reach later subscribers; the gateway never stores them. It refuses the
 * flag only — the message goes on without it — and says so, to be counted.
 */
export function stripRetain(packet: PublishPacket): typeof DenialReason.retainRefused | undefined {
  if (!packet.retain) return undefined;
  packet.retain = false;
  return DenialReason.retainRefused;
}

/** Why admission sheds a message: over the device's rate (QoS 0, or QoS 1 still without a token after its wait), or no room in the gateway. */
export type AdmitRefusal = typeof DenialReason.rateLimited | typeof DenialReason.overloaded;

/** Time as admit sees it: the clock the device's bucket reads, and a wait on that same clock, so tests run in virtual time. */
export interface AdmitTimer extends Clock {
  /** Resolves once `ms` have passed on this timer's clock. */
  sleep(ms: number): Promise<void>;
}

/** The injected clock's time, with the process's timers to wait on. */
export function admitTimer(clock: Clock): AdmitTimer {
  return { now: () => clock.now(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };
}

/**
 * Step 3: the device's rate limit and the gateway's global admission.
 * Resolves undefined once a bridge slot is held (the route releases it), or
 * with why the message is shed: acknowledged per QoS and discarded
 * [MQTT-3.3.5-2].
 */
export async function admit(
  bucket: TokenBucket | undefined,
  qos: number,
  admission: Admission,
  timer: AdmitTimer,
): Promise<AdmitRefusal | undefined> {
  if (bucket !== undefined && !bucket.tryTake(timer.now())) {
    if (qos === 0) return DenialReason.rateLimited;
    // QoS 1 over the rate waits: the client's read loop stalls and TCP
    // slows the sender instead of the gateway buffering.
    // It waits until it holds a token: never past the rate, and never shed (a shed QoS 1 message is acknowledged and
    // lost). A timer can fire a millisecond early against the clock, or another message take the token first: wait again.
    do await timer.sleep(bucket.waitMs(timer.now()));
    while (!bucket.tryTake(timer.now()));
  }
  const slot = qos === 0 ? admission.tryAcquire() : await admission.acquire();
  return slot ? undefined : DenialReason.overloaded;
}

// Step 4, route, is the table in routes.ts.
