import { AttestationReason, attestResponseTopic, deviceCommandTopic, deviceTopic } from '@rampart/contracts';
import { seededRandom } from '@rampart/testing';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF_BASE_MS, DEFAULT_RECONNECT_SPREAD_MS } from './backoff.js';
import {
  ATTESTATION_TIMEOUT_MS,
  DeviceMachine,
  SEQ_EPOCH,
  initialDeviceState,
  step,
  type DeviceMachineConfig,
  type DeviceState,
} from './device-machine.js';
import type { DeviceEffect, DeviceEvent, OperationalCertificate, TimedEvent } from './device-messages.js';
import { drawFraction, seedRandomState } from './device-random.js';

const DEVICE_ID = 'ab'.repeat(32);
const DAY_MS = 86_400_000;
const START = Date.UTC(2026, 0, 1);

const BASE_CONFIG: DeviceMachineConfig = { deviceId: DEVICE_ID, attests: true, ratePerSecond: 0, metricsPerReading: 1, updates: true };

/** A machine on a hand-moved clock, its generator seeded from `seed`. */
function machine(config: Partial<DeviceMachineConfig> = {}, seed = 1) {
  const clock = { time: START };
  const device = new DeviceMachine({ ...BASE_CONFIG, ...config }, { now: () => clock.time }, seedRandomState(seededRandom(seed)));
  return { device, clock, send: (event: DeviceEvent) => device.handle(event) };
}

/** The next `count` fractions the device's generator will draw (its state is a value: peeking changes nothing). */
function nextDraws(state: DeviceState, count: number): number[] {
  const draws: number[] = [];
  let random = state.random;
  for (let i = 0; i < count; i++) {
    const next = drawFraction(random);
    draws.push(next.fraction);
    random = next.state;
  }
  return draws;
}

function nextDraw(state: DeviceState): number {
  return nextDraws(state, 1)[0] ?? Number.NaN;
}

/** What the device publishes for a reading (JSON, as the gateway's schema reads it). */
function readingPayload(reading: { seq: number; ts: number; metrics: Record<string, number>; traceparent?: string }): Buffer {
  return Buffer.from(JSON.stringify(reading));
}

function only<T extends DeviceEffect['type']>(effects: readonly DeviceEffect[], type: T): Array<Extract<DeviceEffect, { type: T }>> {
  return effects.filter((effect): effect is Extract<DeviceEffect, { type: T }> => effect.type === type);
}

function opened(effects: readonly DeviceEffect[]): Extract<DeviceEffect, { type: 'open' }> {
  const [open] = only(effects, 'open');
  if (open === undefined) throw new Error(`no connection opened in ${JSON.stringify(effects.map((e) => e.type))}`);
  return open;
}

function certificate(notAfter: number): OperationalCertificate {
  return { certificatePem: 'LEAF', chainPem: 'CHAIN', notAfter };
}

/** Boots the device; returns the first connection it opens. */
function boot(send: (event: DeviceEvent) => readonly DeviceEffect[]): Extract<DeviceEffect, { type: 'open' }> {
  // Its block of sequence numbers first: nothing is numbered before it.
  expect(send({ type: 'start' })).toEqual([{ type: 'claim-seq-epoch' }, { type: 'power-on', after: 'start' }]);
  return opened(send({ type: 'booted', after: 'start' }));
}

/** Boots and attests; returns the operational connection (subscribed, online). */
function attest(
  send: (event: DeviceEvent) => readonly DeviceEffect[],
  clock: { time: number },
): { connection: number; afterSubscribe: readonly DeviceEffect[] } {
  const identity = boot(send).connection;
  send({ type: 'connected', connection: identity });
  send({ type: 'subscribed', connection: identity, ok: true });
  send({ type: 'challenge', connection: identity, challenge: { type: 'nonce', nonce: 'n-1', expiresAt: 0 } });
  const passed = send({
    type: 'attestation-passed',
    connection: identity,
    certificate: certificate(clock.time + DAY_MS),
    validFrom: clock.time,
    validTo: clock.time + DAY_MS,
  });
  const { connection } = opened(passed);
  send({ type: 'connected', connection });
  return { connection, afterSubscribe: send({ type: 'subscribed', connection, ok: true }) };
}

describe(DeviceMachine.name, () => {
  describe('attestation', () => {
    it('connects on its IDevID, asks for a nonce once subscribed, and answers the nonce with evidence', () => {
      const { device, send } = machine();
      const open = boot(send);
      expect(open.credential).toEqual({ kind: 'identity' });
      expect(device.phase).toBe('connecting');

      const connected = send({ type: 'connected', connection: open.connection });
      expect(device.phase).toBe('online');
      // The response topic first: a nonce published before the subscription would be lost.
      expect(only(connected, 'subscribe')).toEqual([
        { type: 'subscribe', connection: open.connection, topics: [attestResponseTopic(DEVICE_ID)] },
      ]);
      expect(only(connected, 'publish')).toEqual([]);

      const subscribed = send({ type: 'subscribed', connection: open.connection, ok: true });
      expect(subscribed).toContainEqual({ type: 'set-timer', timer: 'attest', ms: ATTESTATION_TIMEOUT_MS });
      expect(only(subscribed, 'request-attestation')).toEqual([
        { type: 'request-attestation', connection: open.connection, topic: deviceTopic(DEVICE_ID, 'attestRequest') },
      ]);

      expect(send({ type: 'challenge', connection: open.connection, challenge: { type: 'nonce', nonce: 'n-1', expiresAt: 0 } })).toEqual([
        {
          type: 'send-evidence',
          connection: open.connection,
          topic: deviceTopic(DEVICE_ID, 'attestEvidence'),
          challenge: { type: 'nonce', nonce: 'n-1', expiresAt: 0 },
        },
      ]);
    });

    it('on a pass keeps the certificate and reconnects at once on it, subscribed to its commands too', () => {
      const { device, clock, send } = machine();
      const identity = boot(send).connection;
      send({ type: 'connected', connection: identity });
      send({ type: 'subscribed', connection: identity, ok: true });
      const issued = certificate(clock.time + DAY_MS);

      const passed = send({
        type: 'attestation-passed',
        connection: identity,
        certificate: issued,
        validFrom: clock.time,
        validTo: clock.time + DAY_MS,
      });

      expect(device.operationalCertificate).toEqual(issued);
      expect(passed).toContainEqual({ type: 'count', counter: 'attestations' });
      expect(passed).toContainEqual({ type: 'clear-timer', timer: 'attest' });
      expect(passed).toContainEqual({ type: 'close', connection: identity });
      // A planned switch: no backoff timer, the new connection opens in the same step.
      expect(only(passed, 'set-timer').map((t) => t.timer)).toEqual(['renew']);
      const next = opened(passed);
      expect(next.credential).toEqual({ kind: 'operational', certificate: issued });

      const connected = send({ type: 'connected', connection: next.connection });
      expect(only(connected, 'subscribe')[0]?.topics).toEqual([attestResponseTopic(DEVICE_ID), deviceCommandTopic(DEVICE_ID, '#')]);
      // The first thing on a fresh operational connection: an update check.
      expect(only(send({ type: 'subscribed', connection: next.connection, ok: true }), 'check-updates')).toHaveLength(1);
    });

    it('on a refusal is quarantined: drops the connection, backs off over the reconnect spread, and reports the reasons', () => {
      const { device, send } = machine();
      const identity = boot(send).connection;
      send({ type: 'connected', connection: identity });
      send({ type: 'subscribed', connection: identity, ok: true });
      const draw = nextDraw(device.state);

      const refused = send({ type: 'attestation-refused', connection: identity, reasons: [AttestationReason.signatureInvalid] });

      expect(device.operationalCertificate).toBeUndefined();
      expect(device.phase).toBe('backoff');
      expect(refused).toContainEqual({ type: 'attestation-refused', reasons: [AttestationReason.signatureInvalid] });
      expect(refused).toContainEqual({ type: 'close', connection: identity });
      expect(refused).toContainEqual({ type: 'count', counter: 'reconnects' });
      expect(only(refused, 'set-timer')).toEqual([
        { type: 'set-timer', timer: 'reconnect', ms: Math.floor(draw * DEFAULT_RECONNECT_SPREAD_MS) },
      ]);
      // A bad signature is not what a newer OS cures: no recovery.
      expect(only(refused, 'recover')).toEqual([]);
    });

    it('takes the recovery path when refused only for what a newer OS cures, and only if it can update', () => {
      const refuseOutdated = (updates: boolean) => {
        const { send } = machine({ updates });
        const identity = boot(send).connection;
        send({ type: 'connected', connection: identity });
        return send({ type: 'attestation-refused', connection: identity, reasons: [AttestationReason.measurementUnknown] });
      };
      expect(only(refuseOutdated(true), 'recover')).toHaveLength(1);
      expect(only(refuseOutdated(false), 'recover')).toEqual([]);
    });

    it('gives up waiting for a verdict after the attestation timeout and retries with backoff', () => {
      const { device, send } = machine();
      const identity = boot(send).connection;
      send({ type: 'connected', connection: identity });
      send({ type: 'subscribed', connection: identity, ok: true });

      const timedOut = send({ type: 'timer', timer: 'attest' });

      expect(timedOut).toContainEqual({ type: 'count', counter: 'attestationTimeouts' });
      expect(timedOut).toContainEqual({ type: 'close', connection: identity });
      expect(device.phase).toBe('backoff');
      expect(only(send({ type: 'timer', timer: 'reconnect' }), 'open')[0]?.credential).toEqual({ kind: 'identity' });
    });

    it('skips attestation with a certificate issued earlier until that certificate expires', () => {
      const early = machine({ operational: certificate(START + DAY_MS) });
      expect(boot(early.send).credential).toEqual({ kind: 'operational', certificate: certificate(START + DAY_MS) });

      const expired = machine({ operational: certificate(START) });
      expect(boot(expired.send).credential).toEqual({ kind: 'identity' });
      expect(expired.device.operationalCertificate).toBeUndefined();
    });

    it('ignores what a connection it has already dropped says', () => {
      const { device, send } = machine();
      const identity = boot(send).connection;
      send({ type: 'connected', connection: identity });
      send({ type: 'timer', timer: 'attest' });

      expect(send({ type: 'challenge', connection: identity, challenge: { type: 'nonce', nonce: 'late', expiresAt: 0 } })).toEqual([]);
      expect(
        send({
          type: 'attestation-passed',
          connection: identity,
          certificate: certificate(START + DAY_MS),
          validFrom: START,
          validTo: START + DAY_MS,
        }),
      ).toEqual([]);
      expect(send({ type: 'connection-lost', connection: identity })).toEqual([]);
      expect(device.operationalCertificate).toBeUndefined();
      expect(device.phase).toBe('backoff');
    });
  });

  describe('renewal', () => {
    it('renews the operational certificate at 80 % of its lifetime, on the connection it has, without reconnecting', () => {
      const { device, clock, send } = machine();
      const identity = boot(send).connection;
      send({ type: 'connected', connection: identity });
      clock.time += 1_000;
      const passed = send({
        type: 'attestation-passed',
        connection: identity,
        certificate: certificate(START + DAY_MS),
        validFrom: START,
        validTo: START + DAY_MS,
      });
      // Counted from the certificate's own validity, not from when the verdict came.
      expect(only(passed, 'set-timer')).toEqual([{ type: 'set-timer', timer: 'renew', ms: 0.8 * DAY_MS - 1_000 }]);
      const operational = opened(passed).connection;
      send({ type: 'connected', connection: operational });
      send({ type: 'subscribed', connection: operational, ok: true });

      clock.time = START + 0.8 * DAY_MS;
      const renewing = send({ type: 'timer', timer: 'renew' });
      expect(only(renewing, 'request-attestation').map((p) => p.topic)).toEqual([deviceTopic(DEVICE_ID, 'attestRequest')]);
      expect(only(renewing, 'request-attestation')[0]?.connection).toBe(operational);

      const renewed = certificate(START + 2 * DAY_MS);
      const passedAgain = send({
        type: 'attestation-passed',
        connection: operational,
        certificate: renewed,
        validFrom: clock.time,
        validTo: clock.time + DAY_MS,
      });
      expect(device.operationalCertificate).toEqual(renewed);
      expect(only(passedAgain, 'close')).toEqual([]);
      expect(only(passedAgain, 'open')).toEqual([]);
      expect(only(passedAgain, 'set-timer')).toEqual([{ type: 'set-timer', timer: 'renew', ms: 0.8 * DAY_MS }]);
    });

    it('does not renew while it is offline', () => {
      const { clock, send } = machine();
      const { connection } = attest(send, clock);
      send({ type: 'connection-lost', connection });
      expect(send({ type: 'timer', timer: 'renew' })).toEqual([]);
    });

    it('forgets the certificate when its OS reboots and attests again on its IDevID', () => {
      const { device, clock, send } = machine();
      const { connection } = attest(send, clock);

      const rebooted = send({ type: 'os-rebooted' });

      expect(device.operationalCertificate).toBeUndefined();
      expect(rebooted).toContainEqual({ type: 'count', counter: 'reboots' });
      expect(rebooted).toContainEqual({ type: 'close', connection });
      expect(rebooted).toContainEqual({ type: 'clear-timer', timer: 'renew' });
      expect(opened(rebooted).credential).toEqual({ kind: 'identity' });
    });
  });

  describe('reconnect with backoff', () => {
    it('backs off exponentially with full jitter while connecting fails, and resets once connected', () => {
      const { device, send } = machine({ attests: false });
      let { connection } = boot(send);
      const delays: number[] = [];
      const draws: number[] = [];
      for (let i = 0; i < 4; i++) {
        draws.push(nextDraw(device.state));
        const failed = send({ type: 'connection-lost', connection });
        expect(failed).toContainEqual({ type: 'count', counter: 'connectFailures' });
        delays.push(...only(failed, 'set-timer').map((t) => t.ms));
        connection = opened(send({ type: 'timer', timer: 'reconnect' })).connection;
      }
      // Each delay is its draw over a window that doubles: base × 2^attempt.
      expect(delays).toEqual([1, 2, 4, 8].map((factor, i) => Math.floor((draws[i] ?? Number.NaN) * DEFAULT_BACKOFF_BASE_MS * factor)));

      send({ type: 'connected', connection });
      expect(device.phase).toBe('online');
      // A connection that was up and is lost retries over the wide spread, from the first window again.
      const draw = nextDraw(device.state);
      const lost = send({ type: 'connection-lost', connection });
      expect(only(lost, 'count').map((c) => c.counter)).toEqual(['reconnects']);
      expect(only(lost, 'set-timer')).toEqual([
        { type: 'set-timer', timer: 'reconnect', ms: Math.floor(draw * DEFAULT_RECONNECT_SPREAD_MS) },
      ]);
    });

    it('does not reconnect early: a reconnect timer outside backoff does nothing', () => {
      const { send } = machine({ attests: false });
      const { connection } = boot(send);
      send({ type: 'connected', connection });
      expect(send({ type: 'timer', timer: 'reconnect' })).toEqual([]);
    });

    it('drops the connection on request only while online (a reconnect-storm rehearsal)', () => {
      const { device, send } = machine({ attests: false });
      const { connection } = boot(send);
      expect(send({ type: 'lose-connection' })).toEqual([]);
      send({ type: 'connected', connection });
      expect(send({ type: 'lose-connection' })).toContainEqual({ type: 'close', connection });
      expect(device.phase).toBe('backoff');
    });
  });

  describe('QoS 1 store', () => {
    /** An app's reading carrying `value`. */
    const reading = (value: number): DeviceEvent => ({ type: 'app-reading', metrics: { value } });

    it('replays every unacknowledged reading, oldest first, after a reconnect, and forgets each on its PUBACK', () => {
      const { device, clock, send } = machine({ attests: false });
      const first = boot(send).connection;
      send({ type: 'connected', connection: first });
      const sent = send(reading(1));
      expect(only(sent, 'publish')).toEqual([
        {
          type: 'publish',
          connection: first,
          topic: deviceTopic(DEVICE_ID, 'telemetry'),
          payload: readingPayload({ seq: 0, ts: START, metrics: { value: 1 } }),
          tag: { store: 'readings', seq: 0 },
        },
      ]);

      send({ type: 'connection-lost', connection: first });
      // Offline: kept, not sent.
      expect(only(send(reading(2)), 'publish')).toEqual([]);
      expect(device.pendingReadings).toBe(2);
      // The lost connection's PUBACK never came; its failure report changes nothing.
      send({ type: 'published', tag: { store: 'readings', seq: 0 }, ok: false });

      const second = opened(send({ type: 'timer', timer: 'reconnect' })).connection;
      clock.time += 40;
      const replayed = send({ type: 'connected', connection: second });
      expect(only(replayed, 'publish').map((p) => [p.connection, p.tag])).toEqual([
        [second, { store: 'readings', seq: 0 }],
        [second, { store: 'readings', seq: 1 }],
      ]);

      clock.time += 15;
      expect(send({ type: 'published', tag: { store: 'readings', seq: 0 }, ok: true })).toEqual([{ type: 'acknowledged', latencyMs: 15 }]);
      expect(send({ type: 'published', tag: { store: 'readings', seq: 1 }, ok: true })).toEqual([
        { type: 'acknowledged', latencyMs: 15 },
        { type: 'drained' },
      ]);
      expect(device.pendingReadings).toBe(0);
    });

    it('sends nothing twice while it is in flight, and resends a failed publish on the next connection', () => {
      const { send } = machine({ attests: false });
      const first = boot(send).connection;
      send({ type: 'connected', connection: first });
      send(reading(1));
      send({ type: 'published', tag: { store: 'readings', seq: 0 }, ok: false });
      send({ type: 'lose-connection' });
      const second = opened(send({ type: 'timer', timer: 'reconnect' })).connection;
      expect(only(send({ type: 'connected', connection: second }), 'publish').map((p) => p.tag)).toEqual([{ store: 'readings', seq: 0 }]);
      // Reading 0 is in flight on this connection: a new reading goes out alone.
      expect(only(send(reading(2)), 'publish').map((p) => p.tag)).toEqual([{ store: 'readings', seq: 1 }]);
    });

    it('drops the oldest reading when full, and counts it', () => {
      const { device, send } = machine({ attests: false, maxPending: 2 });
      send(reading(1));
      send(reading(2));
      expect(send(reading(3))).toEqual([
        { type: 'count', counter: 'published' },
        { type: 'count', counter: 'dropped' },
      ]);
      expect(device.pendingReadings).toBe(2);
      // Reading 0 is gone: its late PUBACK is not an acknowledgement.
      expect(send({ type: 'published', tag: { store: 'readings', seq: 0 }, ok: true })).toEqual([]);
    });

    it('sends telemetry and heartbeats only on the operational certificate, failure reports on either', () => {
      const { clock, send } = machine();
      const identity = boot(send).connection;
      send({ type: 'failure-report', payload: 'crash' });
      send({ type: 'heartbeat', payload: 'beat' });
      send(reading(1));

      send({ type: 'connected', connection: identity });
      const onIdentity = send({ type: 'subscribed', connection: identity, ok: true });
      expect(only(onIdentity, 'publish')).toEqual([]);
      expect(only(onIdentity, 'request-attestation').map((p) => p.topic)).toEqual([deviceTopic(DEVICE_ID, 'attestRequest')]);
      // (The failure report went out when the connection came up.)
      const passed = send({
        type: 'attestation-passed',
        connection: identity,
        certificate: certificate(clock.time + DAY_MS),
        validFrom: clock.time,
        validTo: clock.time + DAY_MS,
      });
      const operational = opened(passed).connection;

      // The failure report's PUBACK never came on the IDevID connection: it goes again, with the heartbeat.
      const connected = send({ type: 'connected', connection: operational });
      expect(only(connected, 'publish').map((p) => p.topic)).toEqual([
        deviceTopic(DEVICE_ID, 'failures'),
        deviceTopic(DEVICE_ID, 'heartbeat'),
      ]);
      const subscribed = send({ type: 'subscribed', connection: operational, ok: true });
      expect(only(subscribed, 'publish').map((p) => p.topic)).toEqual([deviceTopic(DEVICE_ID, 'telemetry')]);
    });

    it('flushes failure reports on the IDevID connection as soon as it is up, and counts each acknowledged one', () => {
      const { device, send } = machine();
      const identity = boot(send).connection;
      send({ type: 'failure-report', payload: 'crash' });
      send({ type: 'heartbeat', payload: 'beat' });
      const connected = send({ type: 'connected', connection: identity });
      expect(only(connected, 'publish')).toEqual([
        {
          type: 'publish',
          connection: identity,
          topic: deviceTopic(DEVICE_ID, 'failures'),
          payload: 'crash',
          tag: { store: 'failures', id: 0 },
        },
      ]);
      expect(send({ type: 'published', tag: { store: 'failures', id: 0 }, ok: true })).toEqual([
        { type: 'count', counter: 'failureReportsSent' },
      ]);
      expect(device.pendingFailureReports).toBe(0);
    });
  });

  describe('update checks', () => {
    it('checks when the platform sends a notice on the current connection, never on a stale one', () => {
      const { clock, send } = machine();
      const { connection } = attest(send, clock);
      expect(send({ type: 'update-notice', connection })).toEqual([{ type: 'check-updates' }]);
      expect(send({ type: 'update-notice', connection: connection - 1 })).toEqual([]);
    });

    it('checks again every interval, each wait drawn from ½–1½ × it, for as long as the connection lasts', () => {
      const { device, clock, send } = machine({ updateCheckIntervalMs: 60_000 });
      // Nothing draws before the first check is scheduled (no readings, no backoff, no tracing).
      const [first = Number.NaN, second = Number.NaN] = nextDraws(device.state, 2);
      const { connection, afterSubscribe } = attest(send, clock);
      expect(afterSubscribe).toContainEqual({ type: 'check-updates' });
      expect(afterSubscribe).toContainEqual({ type: 'set-timer', timer: 'update-check', ms: 60_000 * (0.5 + first) });

      expect(send({ type: 'timer', timer: 'update-check' })).toEqual([
        { type: 'check-updates' },
        { type: 'set-timer', timer: 'update-check', ms: 60_000 * (0.5 + second) },
      ]);
      expect(send({ type: 'connection-lost', connection })).toContainEqual({ type: 'clear-timer', timer: 'update-check' });
      expect(send({ type: 'timer', timer: 'update-check' })).toEqual([]);
    });

    it('does not check without the means to update', () => {
      const { clock, send } = machine({ updates: false });
      const { connection, afterSubscribe } = attest(send, clock);
      expect(only(afterSubscribe, 'check-updates')).toEqual([]);
      expect(send({ type: 'update-notice', connection })).toEqual([]);
    });
  });

  describe('life cycle', () => {
    it('starts publishing at a random offset within the first interval, then every interval', () => {
      const { device, send } = machine({ attests: false, ratePerSecond: 4 });
      send({ type: 'start' });
      const offset = nextDraw(device.state);
      expect(only(send({ type: 'booted', after: 'start' }), 'set-timer')).toEqual([
        { type: 'set-timer', timer: 'publish', ms: offset * 250 },
      ]);
      // Not connected yet: the reading is made and kept.
      expect(send({ type: 'timer', timer: 'publish' })).toEqual([
        { type: 'count', counter: 'published' },
        { type: 'set-timer', timer: 'publish', ms: 250 },
      ]);
      expect(device.pendingReadings).toBe(1);
      expect(send({ type: 'publishing-stopped' })).toEqual([{ type: 'clear-timer', timer: 'publish' }]);
      const resumeOffset = nextDraw(device.state);
      expect(only(send({ type: 'publishing-resumed' }), 'set-timer')).toEqual([
        { type: 'set-timer', timer: 'publish', ms: resumeOffset * 250 },
      ]);
      // Already publishing: a second resume adds no second timer.
      expect(send({ type: 'publishing-resumed' })).toEqual([]);
    });

    it('on stop clears every timer, disconnects cleanly and ignores what comes after', () => {
      const { device, send } = machine({ attests: false });
      const { connection } = boot(send);
      send({ type: 'connected', connection });
      const stopped = send({ type: 'stop' });
      expect(
        only(stopped, 'clear-timer')
          .map((t) => t.timer)
          .sort(),
      ).toEqual(['attest', 'publish', 'reconnect', 'renew', 'update-check']);
      expect(only(stopped, 'disconnect')).toEqual([{ type: 'disconnect', connection }]);
      expect(device.phase).toBe('stopped');
      expect(send({ type: 'connection-lost', connection })).toEqual([]);
      expect(send({ type: 'reboot' })).toEqual([]);
      expect(send({ type: 'start' })).toEqual([]);
    });

    it('stays off when its power-on fails', () => {
      const { device, send } = machine();
      send({ type: 'start' });
      send({ type: 'boot-failed' });
      expect(device.phase).toBe('stopped');
      expect(send({ type: 'booted', after: 'start' })).toEqual([]);
    });
  });

  describe('readings', () => {
    it('numbers readings from the block its start claimed, and stamps them with the time they were made', () => {
      const { clock, send } = machine({ attests: false });
      const { connection } = boot(send);
      send({ type: 'seq-epoch', epoch: 3 });
      send({ type: 'connected', connection });
      clock.time += 1_234.6;
      expect(only(send({ type: 'app-reading', metrics: { level: 7 } }), 'publish').map((p) => p.payload)).toEqual([
        readingPayload({ seq: 3 * SEQ_EPOCH, ts: START + 1_235, metrics: { level: 7 } }),
      ]);
      expect(only(send({ type: 'app-reading', metrics: { level: 8 } }), 'publish').map((p) => p.tag)).toEqual([
        { store: 'readings', seq: 3 * SEQ_EPOCH + 1 },
      ]);
    });

    it('makes a synthetic reading of `metricsPerReading` drifting metrics on each publish timer', () => {
      const { device, send } = machine({ attests: false, ratePerSecond: 1, metricsPerReading: 3 });
      const { connection } = boot(send);
      send({ type: 'connected', connection });
      const start = device.state.telemetry.values;
      const [published] = only(send({ type: 'timer', timer: 'publish' }), 'publish');
      const reading = JSON.parse(String(published?.payload)) as { seq: number; metrics: Record<string, number> };
      expect(Object.keys(reading.metrics)).toEqual(['temperature_c', 'humidity_pct', 'battery_v']);
      Object.values(reading.metrics).forEach((value, i) =>
        expect(Math.abs(value - (start[i] ?? Number.NaN))).toBeLessThanOrEqual(0.1 + 0.001),
      );
      expect(device.state.telemetry.nextSeq).toBe(reading.seq + 1);
    });

    it('traces the share of readings and evidence it is told to, with a W3C traceparent', () => {
      const traced = machine({ traceSampleRatio: 1 });
      const identity = boot(traced.send).connection;
      const [evidence] = only(
        traced.send({ type: 'challenge', connection: identity, challenge: { type: 'nonce', nonce: 'n', expiresAt: 0 } }),
        'send-evidence',
      );
      expect(evidence?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      traced.send({ type: 'app-reading', metrics: { v: 1 } });
      const [kept] = traced.device.state.readings.entries();
      expect((JSON.parse(String(kept?.payload)) as { traceparent?: string }).traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

      const untraced = machine({ attests: false });
      const before = untraced.device.state.random;
      untraced.send({ type: 'app-reading', metrics: { v: 1 } });
      const [plain] = untraced.device.state.readings.entries();
      expect(JSON.parse(String(plain?.payload))).not.toHaveProperty('traceparent');
      // Sampling nothing draws nothing.
      expect(untraced.device.state.random).toEqual(before);
    });
  });

  describe('messages', () => {
    it('tells a nonce, a verdict and an update notice apart by topic, and ignores other topics and bad JSON', () => {
      const { clock, send } = machine();
      const identity = boot(send).connection;
      send({ type: 'connected', connection: identity });
      const message = (topic: string, body: string, connection = identity): DeviceEvent => ({
        type: 'message',
        connection,
        topic,
        payload: Buffer.from(body),
      });
      expect(send(message(attestResponseTopic(DEVICE_ID), JSON.stringify({ type: 'nonce', nonce: 'n-7' })))).toEqual([
        {
          type: 'send-evidence',
          connection: identity,
          topic: deviceTopic(DEVICE_ID, 'attestEvidence'),
          challenge: { type: 'nonce', nonce: 'n-7' },
        },
      ]);
      expect(send(message(attestResponseTopic(DEVICE_ID), 'not json'))).toEqual([]);
      expect(send(message(deviceTopic(DEVICE_ID, 'telemetry'), '{}'))).toEqual([]);
      const refused = send(
        message(
          attestResponseTopic(DEVICE_ID),
          JSON.stringify({ type: 'verdict', verdict: { pass: false, reasons: ['signature-invalid'] } }),
        ),
      );
      expect(refused).toContainEqual({ type: 'attestation-refused', reasons: ['signature-invalid'] });

      const operational = machine({ operational: certificate(clock.time + DAY_MS) });
      const { connection } = boot(operational.send);
      operational.send({ type: 'connected', connection });
      operational.send({ type: 'subscribed', connection, ok: true });
      expect(operational.send(message(deviceCommandTopic(DEVICE_ID, 'update-check'), '{}', connection))).toEqual([
        { type: 'check-updates' },
      ]);
    });
  });

  describe(step.name, () => {
    /** A recorded life: attestation, readings (some traced), a lost connection, backoff, resends and PUBACKs. */
    function record(initial: DeviceState): TimedEvent[] {
      const events: TimedEvent[] = [];
      let state = initial;
      let at = START;
      const send = (event: DeviceEvent, after = 10): readonly DeviceEffect[] => {
        at += after;
        const timed = { ...event, at };
        events.push(timed);
        const result = step(state, timed);
        state = result.state;
        return result.effects;
      };
      const identity = boot(send).connection;
      send({ type: 'seq-epoch', epoch: 1 });
      send({ type: 'connected', connection: identity });
      send({ type: 'subscribed', connection: identity, ok: true });
      send({ type: 'challenge', connection: identity, challenge: { type: 'nonce', nonce: 'n-1', expiresAt: 0 } });
      const operational = opened(
        send({
          type: 'attestation-passed',
          connection: identity,
          certificate: certificate(at + DAY_MS),
          validFrom: at,
          validTo: at + DAY_MS,
        }),
      ).connection;
      send({ type: 'connected', connection: operational });
      send({ type: 'subscribed', connection: operational, ok: true });
      for (let i = 0; i < 5; i++) send({ type: 'timer', timer: 'publish' }, 500);
      send({ type: 'app-reading', metrics: { level: 3 } });
      send({ type: 'failure-report', payload: 'crash' });
      send({ type: 'published', tag: { store: 'readings', seq: SEQ_EPOCH }, ok: true });
      send({ type: 'connection-lost', connection: operational });
      const next = opened(send({ type: 'timer', timer: 'reconnect' }, 5_000)).connection;
      send({ type: 'connected', connection: next });
      send({ type: 'subscribed', connection: next, ok: true });
      send({ type: 'published', tag: { store: 'readings', seq: SEQ_EPOCH + 1 }, ok: true }, 40);
      send({ type: 'published', tag: { store: 'failures', id: 0 }, ok: true });
      return events;
    }

    function replay(initial: DeviceState, events: readonly TimedEvent[]) {
      let state = initial;
      const effects: DeviceEffect[][] = [];
      for (const event of events) {
        const result = step(state, event);
        state = result.state;
        effects.push([...result.effects]);
      }
      return { state, effects };
    }

    it('is pure: replaying recorded events from the same state gives equal states and effects, and leaves that state as it was', () => {
      const config: DeviceMachineConfig = { ...BASE_CONFIG, ratePerSecond: 2, metricsPerReading: 4, traceSampleRatio: 0.5 };
      const initial = initialDeviceState(config, seedRandomState(seededRandom(42)));
      const events = record(initial);

      const first = replay(initial, events);
      const second = replay(initial, events);

      expect(second.state).toEqual(first.state);
      expect(second.effects).toEqual(first.effects);
      // Nothing was trivially empty: it attested, published, lost and regained its connection.
      expect(first.state.phase).toBe('online');
      expect(first.state.operational).toBeDefined();
      expect(first.effects.flat().filter((e) => e.type === 'publish').length).toBeGreaterThan(6);
      expect(first.state.readings.size).toBe(4);
      // The initial state is untouched by both replays: equal to a fresh one made the same way.
      expect(initial).toEqual(initialDeviceState(config, seedRandomState(seededRandom(42))));
      expect(initial.readings.size).toBe(0);
    });

    it('gives other effects from a state seeded otherwise (the equality above is not trivial)', () => {
      const config: DeviceMachineConfig = { ...BASE_CONFIG, ratePerSecond: 2, traceSampleRatio: 0.5 };
      const events = record(initialDeviceState(config, seedRandomState(seededRandom(42))));
      const one = replay(initialDeviceState(config, seedRandomState(seededRandom(42))), events);
      const other = replay(initialDeviceState(config, seedRandomState(seededRandom(43))), events);
      expect(other.effects).not.toEqual(one.effects);
    });
  });
});
