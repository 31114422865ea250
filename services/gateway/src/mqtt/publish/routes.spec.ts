import type { Aedes, Client, PublishPacket } from 'aedes';
import { metrics as otelMetrics, trace } from '@opentelemetry/api';
import {
  DEVICE_TOPIC_ROOT,
  DenialReason,
  DevicePublishTopic,
  MAX_HEARTBEAT_BYTES,
  Subject,
  attestResponseTopic,
  deviceTopic,
  type DevicePublishKind,
} from '@rampart/contracts';
import { InProcessBus, TypedBus, createLogger, decodeJson, encodeJson } from '@rampart/service-kit';
import { describe, expect, it } from 'vitest';
import { Admission } from '../admission.js';
import { AttestationBridge } from '../../gateway/attestation-bridge.js';
import { AttestationGate } from '../../gateway/attestation-gate.js';
import { failureBridge } from '../../gateway/failure-bridge.js';
import { GatewayMetrics } from '../../gateway/gateway-metrics.js';
import { telemetryBridge } from '../../gateway/telemetry-bridge.js';
import type { ConnectionInfo } from '../connections.js';
import { DenialError } from '../denials.js';
import { publishRoutes, type PublishRoutes } from './routes.js';

const deviceId = 'd'.repeat(64);
const now = Date.now();
const clock = { now: () => now };
const tracer = trace.getTracer('test');
const logger = createLogger('gateway', 'silent');
const batch = { maxReadings: 1, maxDelayMs: 1 };
// The routes read only the client's id and whether it has closed.
const client = { id: deviceId, closed: false } as Client;
const info: ConnectionInfo = { certifiedId: deviceId, listener: 'tls', credential: 'operational', tenantId: 'acme', remoteAddress: '' };

/** What the routes publish through the broker: the answers on devices' response topics. */
class BrokerSeen {
  readonly published: PublishPacket[] = [];
  private waiters: Array<() => void> = [];
  /** Takes the place of Aedes's publish; the routes use nothing else of the broker. */
  readonly broker = {
    publish: (packet: PublishPacket, done: (error?: Error) => void) => {
      this.published.push(packet);
      done();
      for (const wake of this.waiters.splice(0)) wake();
    },
  } as unknown as Aedes;

  /** Resolves once `count` packets have been published. */
  async until(count: number): Promise<readonly PublishPacket[]> {
    while (this.published.length < count) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.published;
  }
}

async function routesOver(options: {
  streamsOpen: boolean;
  bus?: InProcessBus;
  broker?: BrokerSeen;
}): Promise<{ routes: PublishRoutes; admission: Admission; metrics: GatewayMetrics }> {
  const bus = options.bus ?? new InProcessBus();
  const admission = new Admission(10, 10);
  const metrics = new GatewayMetrics(
    otelMetrics.getMeter('test'),
    () => 0,
    () => 0,
    () => 0,
  );
  const telemetry = telemetryBridge(bus, clock, { maxAgeMs: 60_000, duplicateWindowMs: 60_000, batch }, tracer);
  const failures = failureBridge(bus, clock, batch, tracer);
  if (options.streamsOpen) {
    await telemetry.start();
    await failures.start();
  }
  const attestation = new AttestationGate(
    { ratePerMinute: 60, burst: 1, maxInFlight: 1, maxWaiting: 1, timeoutMs: 1000 },
    new AttestationBridge(new TypedBus(bus), tracer),
    metrics,
    logger,
    clock,
  );
  const broker = (): Aedes | undefined => options.broker?.broker;
  const routes = publishRoutes({ telemetry, failures, attestation, admission, broker, metrics, logger });
  return { routes, admission, metrics };
}

function packet(kind: DevicePublishKind, payload: unknown): PublishPacket {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return { cmd: 'publish', topic: deviceTopic(deviceId, kind), payload: Buffer.from(body), qos: 1, retain: false, dup: false };
}

/** Delivers as the authorizePublish hook does, once admit has taken a slot; resolves with what the route answered. */
function deliver(
  routes: PublishRoutes,
  admission: Admission,
  kind: DevicePublishKind,
  payload: unknown,
): Promise<Error | null | undefined> {
  if (routes[kind].admitted) expect(admission.tryAcquire()).toBe(true);
  return new Promise((resolve) => routes[kind].deliver(client, info, packet(kind, payload), resolve));
}

describe(publishRoutes.name, () => {
  it(`routes every topic a device may publish to (${DEVICE_TOPIC_ROOT}/<id>/…), attestation outside the global admission`, async () => {
    const { routes } = await routesOver({ streamsOpen: true });
    expect(Object.keys(routes).sort()).toEqual(Object.keys(DevicePublishTopic).sort());
    expect(Object.entries(routes).map(([kind, route]) => [kind, route.admitted])).toEqual(
      expect.arrayContaining([
        ['telemetry', true],
        ['failures', true],
        ['heartbeat', true],
        ['attestRequest', false],
        ['attestEvidence', false],
      ]),
    );
  });

  it('acknowledges a reading once the stream holds it, gives the slot back and counts it bridged', async () => {
    const { routes, admission, metrics } = await routesOver({ streamsOpen: true });
    expect(await deliver(routes, admission, 'telemetry', { seq: 1, ts: now, metrics: { temp: 1 } })).toBeNull();
    expect(admission.active).toBe(0);
    expect(metrics.totals.bridged).toBe(1);
  });

  it('acknowledges and drops a payload the bridge refuses, counting the reason', async () => {
    const { routes, admission, metrics } = await routesOver({ streamsOpen: true });
    expect(await deliver(routes, admission, 'telemetry', 'not json{')).toBeNull();
    expect(await deliver(routes, admission, 'heartbeat', 'x'.repeat(MAX_HEARTBEAT_BYTES + 1))).toBeNull();
    expect(admission.active).toBe(0);
    expect(metrics.totals.denials[DenialReason.malformedPayload]).toBe(2);
    expect(metrics.totals.bridged).toBe(0);
  });

  it('closes the connection, without PUBACK, when the stream is unavailable, so the device resends', async () => {
    const { routes, admission, metrics } = await routesOver({ streamsOpen: false });
    const answer = await deliver(routes, admission, 'telemetry', { seq: 1, ts: now, metrics: { temp: 1 } });
    expect(answer).toBeInstanceOf(Error);
    expect(answer).not.toBeInstanceOf(DenialError);
    expect(answer?.message).toBe('telemetry stream unavailable');
    expect(admission.active).toBe(0);
    expect(metrics.totals.bridgeErrors).toBe(1);
  });

  it('acknowledges an attestation message at once, passes it to the attestation service and answers on devices/<id>/attest/response', async () => {
    const bus = new InProcessBus();
    const asked: unknown[] = [];
    bus.serve(Subject.attestationNonceIssue, 'attestation', (data) => {
      asked.push(decodeJson(data));
      return Promise.resolve(encodeJson({ ok: true, data: { nonce: 'n-1', expiresAt: now + 60_000 } }));
    });
    const seen = new BrokerSeen();
    const { routes, admission } = await routesOver({ streamsOpen: true, bus, broker: seen });
    expect(await deliver(routes, admission, 'attestRequest', {})).toBeNull();
    expect(admission.active).toBe(0);
    const [answer] = await seen.until(1);
    expect(asked).toEqual([expect.objectContaining({ deviceId })]);
    expect(answer).toMatchObject({ cmd: 'publish', topic: attestResponseTopic(deviceId), qos: 1, retain: false });
    expect(JSON.parse(String(answer?.payload))).toEqual({ type: 'nonce', nonce: 'n-1', expiresAt: now + 60_000 });
  });

  it("passes a TPM 2.0 device's request (EK certificate, EK and AK) for a credential challenge", async () => {
    const bus = new InProcessBus();
    const asked: unknown[] = [];
    const challenge = { idObject: 'aWQ', encryptedSecret: 'c2VjcmV0', challenge: 'c2VhbGVk', expiresAt: now + 60_000 };
    bus.serve(Subject.attestationTpm2Challenge, 'attestation', (data) => {
      asked.push(decodeJson(data));
      return Promise.resolve(encodeJson({ ok: true, data: { pass: true, challenge } }));
    });
    bus.serve(Subject.attestationNonceIssue, 'attestation', () => Promise.reject(new Error('a TPM request is not a nonce request')));
    const seen = new BrokerSeen();
    const { routes, admission } = await routesOver({ streamsOpen: true, bus, broker: seen });
    const request = { kind: 'tpm2-quote', ekCertificate: 'ZWs', ekPublic: 'ZWtwdWI', akPublic: 'YWtwdWI' };
    expect(await deliver(routes, admission, 'attestRequest', request)).toBeNull();
    const [answer] = await seen.until(1);
    expect(asked).toEqual([expect.objectContaining({ deviceId, request })]);
    expect(JSON.parse(String(answer?.payload))).toEqual({ type: 'tpm2-credential', ...challenge });
  });

  it('refuses a malformed TPM 2.0 request without asking the attestation service', async () => {
    const bus = new InProcessBus();
    const asked: string[] = [];
    for (const subject of [Subject.attestationTpm2Challenge, Subject.attestationNonceIssue]) {
      bus.serve(subject, 'attestation', () => {
        asked.push(subject);
        return Promise.reject(new Error('not to be asked'));
      });
    }
    const seen = new BrokerSeen();
    const { routes, admission, metrics } = await routesOver({ streamsOpen: true, bus, broker: seen });
    const malformed = { kind: 'tpm2-quote', ekCertificate: 'ZWs', ekPublic: 'ZWtwdWI', akPublic: 'not base64url!' };
    expect(await deliver(routes, admission, 'attestRequest', malformed)).toBeNull();
    const [refused] = await seen.until(1);
    expect(JSON.parse(String(refused?.payload))).toEqual({ type: 'verdict', verdict: { pass: false, reasons: ['MALFORMED_EVIDENCE'] } });
    expect(asked).toEqual([]);
    expect(metrics.totals.denials[DenialReason.malformedPayload]).toBe(1);
  });
});
