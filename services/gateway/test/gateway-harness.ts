import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Durable, Stream, Subject } from '@rampart/contracts';
import { type SecuritySubsystem, manufactureDevice } from '@rampart/emulator';
import { NatsBus, createLogger, decodeJson, type Closable } from '@rampart/service-kit';
import { TEST_NATS_URL, createTestPki, createTestTenantIssuer, uniqueBusPrefix, type TestPki } from '@rampart/testing';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { loadGatewayConfig } from '../src/gateway/gateway.config.js';
import { startGateway, type RunningGateway } from '../src/start-gateway.js';

export interface TestDevice {
  readonly id: string;
  readonly security: SecuritySubsystem;
  readonly certificatePem: string;
}

/** A gateway on random ports with a throwaway PKI and its own NATS prefix. */
export class GatewayHarness {
  private constructor(
    /** Readings that reached the telemetry stream, in arrival order. */
    readonly received: unknown[],
    readonly pki: TestPki,
    readonly running: RunningGateway,
    readonly bus: NatsBus,
    private readonly consumer: Closable,
    private readonly issueOperational: Awaited<ReturnType<typeof createTestTenantIssuer>>,
  ) {}

  static async start(env: Record<string, string> = {}): Promise<GatewayHarness> {
    const pki = await createTestPki();
    const prefix = uniqueBusPrefix('gw');
    const config = loadGatewayConfig({
      NATS_URL: TEST_NATS_URL,
      BUS_PREFIX: prefix,
      HTTP_PORT: '0',
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      TLS_CERT_FILE: pki.files.gatewayCert,
      TLS_KEY_FILE: pki.files.gatewayKey,
      MANUFACTURER_CA_FILE: pki.files.manufacturerCa,
      PLATFORM_CA_FILE: pki.files.platformCa,
      ...env,
    });
    const running = await startGateway(config, createLogger('gateway', 'silent'));
    const bus = await NatsBus.connect({ url: TEST_NATS_URL, prefix, name: 'gateway-test', onError: () => undefined });
    const received: unknown[] = [];
    const consumer = await bus.consumeDurable(
      {
        stream: Stream.telemetry.name,
        durable: Durable.telemetryIngest,
        filterSubject: Subject.telemetryBatchReceived,
        maxAckPending: 1000,
        ackWaitMs: 5000,
      },
      (m) => {
        received.push(...(decodeJson(m.data) as { readings: unknown[] }).readings);
        m.ack();
      },
    );
    return new GatewayHarness(received, pki, running, bus, consumer, await createTestTenantIssuer(pki.platformCa));
  }

  get port(): number {
    return this.running.mqttPort;
  }

  get totals() {
    return this.running.gateway.totals;
  }

  /** A device whose operational certificate comes from a second tenant CA under the same root (a rotated CA). */
  async deviceFromNewTenantCa(): Promise<TestDevice> {
    const issue = await createTestTenantIssuer(this.pki.platformCa, 'test');
    const made = await manufactureDevice(this.pki.manufacturerCa);
    const operational = issue(made);
    return { id: made.security.deviceId, security: made.security, certificatePem: `${operational.certificatePem}${operational.chainPem}` };
  }

  /** A device on its manufacturer identity (IDevID): it may only attest. */
  async identityDevice(): Promise<TestDevice> {
    const made = await manufactureDevice(this.pki.manufacturerCa);
    return { id: made.security.deviceId, security: made.security, certificatePem: made.identityCertificatePem };
  }

  /** A device holding an operational certificate (LDevID) from a test tenant CA: the whole namespace is open. */
  async device(): Promise<TestDevice> {
    const made = await manufactureDevice(this.pki.manufacturerCa);
    const operational = this.issueOperational(made);
    return { id: made.security.deviceId, security: made.security, certificatePem: `${operational.certificatePem}${operational.chainPem}` };
  }

  /** An MQTT 3.1.1 client over TLS presenting `device`'s identity. */
  client(device: TestDevice, options: Partial<IClientOptions> = {}): MqttClient {
    return mqtt.connect({
      protocol: 'mqtts',
      host: '127.0.0.1',
      port: this.port,
      protocolVersion: 4,
      clientId: device.id,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      servername: 'localhost',
      secureContext: device.security.tlsContext(device.certificatePem, this.pki.platformCa.certificatePem),
      ...options,
    } as IClientOptions);
  }

  /** A raw TLS socket with the device identity, for speaking bytes by hand. */
  rawSocket(device: TestDevice): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({
        host: '127.0.0.1',
        port: this.port,
        servername: 'localhost',
        secureContext: device.security.tlsContext(device.certificatePem, this.pki.platformCa.certificatePem),
      });
      socket.once('secureConnect', () => resolve(socket));
      socket.once('error', reject);
    });
  }

  async close(): Promise<void> {
    await this.consumer.close();
    await this.running.close();
    await this.bus.drain();
    await this.pki.remove();
  }
}

export function connected(client: MqttClient): Promise<void> {
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (client.disconnected) resolve();
    client.once('close', () => resolve());
  });
}

export function socketClosed(socket: TLSSocket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    // Read (and discard) what the server sends, or a paused socket never sees the close.
    socket.resume();
    socket.once('close', () => resolve());
  });
}

export function reading(seq: number, metrics: Record<string, number> = { temp: 21.5 }): string {
  return JSON.stringify({ seq, ts: Date.now(), metrics });
}
