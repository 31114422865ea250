import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import mqttPacket from 'mqtt-packet';
import mqtt, { type IClientOptions } from 'mqtt';
import { manufactureDevice, type ManufacturedDevice } from '@rampart/emulator';
import { TEST_NATS_URL, createTestPki, createTestTenantIssuer, removeBusPrefix, uniqueBusPrefix, type TestPki } from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceProcess, residentBytes, scrapeMetric, startGatewayProcess, gatewayTlsEnv } from '../support/service-process.js';

const FLOOD_MS = 60_000;
const FLOODERS = 24;
/** The gateway runs with this V8 heap limit: unbounded buffering would crash it. */
const HEAP_LIMIT_MB = 192;
/** Resident memory (heap, buffers, TLS) may not pass this during the flood. */
const MEMORY_CEILING_BYTES = 768 * 1024 * 1024;

/**
 * Hostile devices write PUBLISH packets as fast as TCP takes them for 60 s:
 * half at QoS 0, half at QoS 1 without ever waiting for a PUBACK. The
 * gateway must stay up, answer health checks, keep its memory bounded,
 * count what it sheds, and still serve a well-behaved device afterwards.
 */
describe('60 s overload flood', () => {
  let pki: TestPki;
  let gateway: { process: ServiceProcess; mqttPort: number; url: string };
  const prefix = uniqueBusPrefix('flood');

  beforeAll(async () => {
    pki = await createTestPki();
    gateway = await startGatewayProcess('gateway', {
      NATS_URL: TEST_NATS_URL,
      BUS_PREFIX: prefix,
      ...gatewayTlsEnv(pki),
      DEVICE_RATE_PER_SEC: '50',
      DEVICE_RATE_BURST: '100',
      NODE_OPTIONS: `--max-old-space-size=${HEAP_LIMIT_MB}`,
      TELEMETRY_STREAM_MAX_AGE_MS: '300000',
    });
  });

  afterAll(async () => {
    await gateway?.process.stop();
    await removeBusPrefix(prefix);
    await pki?.remove();
  });

  /** The TLS context of a device holding an operational certificate (floods happen after attestation). */
  let operationalPem: (device: ManufacturedDevice) => string;

  function flood(device: ManufacturedDevice, qos: 0 | 1, until: number): Promise<number> {
    return new Promise((resolve) => {
      const socket: TLSSocket = tlsConnect({
        host: '127.0.0.1',
        port: gateway.mqttPort,
        servername: 'localhost',
        secureContext: device.security.tlsContext(operationalPem(device), pki.platformCa.certificatePem),
      });
      let sent = 0;
      let seq = 0;
      // The flood ends at `until` even for a socket waiting on 'drain': the gateway reads a QoS 1 flooder's backlog
      // at its rate limit, so waiting for that drain kept the test running about two minutes past the flood.
      const stop = setTimeout(() => socket.destroy(), Math.max(0, until - Date.now()));
      socket.on('error', () => undefined);
      socket.resume();
      const topic = `devices/${device.security.deviceId}/telemetry`;
      const pump = (): void => {
        while (Date.now() < until && !socket.destroyed) {
          const payload = JSON.stringify({ seq: seq++, ts: Date.now(), metrics: { flood: seq } });
          const packet = mqttPacket.generate({
            cmd: 'publish',
            topic,
            payload,
            qos,
            messageId: qos === 1 ? (seq % 65535) + 1 : undefined,
            dup: false,
            retain: false,
          });
          sent++;
          if (!socket.write(packet)) {
            socket.once('drain', pump);
            return;
          }
        }
        socket.destroy();
        resolve(sent);
      };
      socket.once('secureConnect', () => {
        socket.write(
          mqttPacket.generate({
            cmd: 'connect',
            protocolId: 'MQTT',
            protocolVersion: 4,
            clean: true,
            clientId: device.security.deviceId,
            keepalive: 0,
          }),
        );
        pump();
      });
      socket.once('close', () => {
        clearTimeout(stop);
        resolve(sent);
      });
    });
  }

  it('stays alive with bounded memory, counts shed load, and serves devices afterwards', async () => {
    const issue = await createTestTenantIssuer(pki.platformCa);
    operationalPem = (device) => {
      const issued = issue(device);
      return `${issued.certificatePem}${issued.chainPem}`;
    };
    const devices = await Promise.all(Array.from({ length: FLOODERS }, () => manufactureDevice(pki.manufacturerCa)));
    const until = Date.now() + FLOOD_MS;
    const samples: number[] = [];
    let healthFailures = 0;
    const sampler = setInterval(() => {
      residentBytes(gateway.process.pid).then(
        (bytes) => samples.push(bytes),
        () => undefined,
      );
      fetch(`${gateway.url}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
        (r) => {
          if (!r.ok) healthFailures++;
        },
        () => healthFailures++,
      );
    }, 1_000);
    const sent = await Promise.all(devices.map((d, i) => flood(d, i % 2 === 0 ? 0 : 1, until)));
    clearInterval(sampler);

    expect(gateway.process.child.exitCode).toBeNull();
    expect(sent.reduce((a, b) => a + b, 0)).toBeGreaterThan(100_000);
    expect(samples.length).toBeGreaterThan(30);
    expect(Math.max(...samples)).toBeLessThan(MEMORY_CEILING_BYTES);
    // Bounded means a plateau: the last third of the flood uses no more than the first two thirds (plus GC slack).
    const cut = Math.floor((samples.length * 2) / 3);
    expect(Math.max(...samples.slice(cut))).toBeLessThan(Math.max(...samples.slice(0, cut)) * 1.25);
    expect(healthFailures).toBeLessThanOrEqual(2);
    expect(await scrapeMetric(gateway.url, 'rampart_gateway_shed_total')).toBeGreaterThan(0);

    const good = await manufactureDevice(pki.manufacturerCa);
    const client = mqtt.connect({
      protocol: 'mqtts',
      host: '127.0.0.1',
      port: gateway.mqttPort,
      protocolVersion: 4,
      clientId: good.security.deviceId,
      reconnectPeriod: 0,
      servername: 'localhost',
      secureContext: good.security.tlsContext(operationalPem(good), pki.platformCa.certificatePem),
    } as IClientOptions);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.publishAsync(
      `devices/${good.security.deviceId}/telemetry`,
      JSON.stringify({ seq: 1, ts: Date.now(), metrics: { ok: 1 } }),
      { qos: 1 },
    );
    await client.endAsync();
  });
});
