import { randomBytes } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { attestResponseTopic, deviceTopic, type AttestationResponse } from '@rampart/contracts';
import { createSignedEvidence, demoBootState, manufactureDevice, type ManufacturedDevice } from '@rampart/emulator';
import {
  TEST_NATS_URL,
  attestationTestEnv,
  createTestDatabase,
  createTestPki,
  removeBusPrefix,
  uniqueBusPrefix,
  waitFor,
  type TestDatabase,
  type TestPki,
} from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PlatformCall,
  type ServiceProcess,
  gatewayTlsEnv,
  scrapeMetric,
  startAttestationWithTenant,
  startGatewayProcess,
} from '../support/service-process.js';

/** The gateway's handshake timeout here: short, so the test sees it fire. */
const HANDSHAKE_TIMEOUT_MS = 2_000;
const MAX_CONNECTIONS = 100;
const MAX_HANDSHAKING = 40;
/** Raw TCP connects in the handshake flood: well over what the gateway may hold. */
const HANDSHAKE_FLOOD = 160;

/**
 * The gateway attacked from outside as issue 13 did it, with the attestation
 * service behind it as processes over NATS and PostgreSQL: the flood's counts
 * are logged so the closing note can quote them.
 */
describe('the gateway under attack', () => {
  let db: TestDatabase;
  let pki: TestPki;
  let attestation: { process: ServiceProcess; call: PlatformCall; tenantToken: string };
  let gateway: { process: ServiceProcess; mqttPort: number; url: string };
  const prefix = uniqueBusPrefix('e2e-attack');

  beforeAll(async () => {
    db = await createTestDatabase();
    pki = await createTestPki();
    const operatorToken = randomBytes(24).toString('hex');
    attestation = await startAttestationWithTenant(
      attestationTestEnv({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, pki, operatorToken }),
      operatorToken,
    );
    gateway = await startGatewayProcess('gateway', {
      NATS_URL: TEST_NATS_URL,
      BUS_PREFIX: prefix,
      ...gatewayTlsEnv(pki),
      CONNECT_TIMEOUT_MS: String(HANDSHAKE_TIMEOUT_MS),
      MAX_CONNECTIONS: String(MAX_CONNECTIONS),
      MAX_HANDSHAKING: String(MAX_HANDSHAKING),
    });
  });

  afterAll(async () => {
    await gateway?.process.stop();
    await attestation?.process.stop();
    await removeBusPrefix(prefix);
    await db?.drop();
    await pki?.remove();
  });

  /** A device of the test tenant, claimed, still on its manufacturer identity. */
  async function claimedDevice(): Promise<ManufacturedDevice> {
    const device = await manufactureDevice(pki.manufacturerCa);
    await attestation.call('PUT', `/v1/devices/${device.security.deviceId}/claim`, attestation.tenantToken);
    return device;
  }

  async function connectIdentity(device: ManufacturedDevice): Promise<MqttClient> {
    const client = mqtt.connect({
      protocol: 'mqtts',
      host: '127.0.0.1',
      port: gateway.mqttPort,
      protocolVersion: 4,
      clientId: device.security.deviceId,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      servername: 'localhost',
      secureContext: device.security.tlsContext(device.identityCertificatePem, pki.platformCa.certificatePem),
    } as IClientOptions);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
      client.once('close', () => reject(new Error('closed before CONNACK')));
    });
    await client.subscribeAsync(attestResponseTopic(device.security.deviceId), { qos: 1 });
    return client;
  }

  /** The device's whole attestation on an open connection: nonce, signed evidence, verdict. */
  async function attest(client: MqttClient, device: ManufacturedDevice): Promise<AttestationResponse> {
    const id = device.security.deviceId;
    const next = (): Promise<AttestationResponse> =>
      new Promise((resolve) => client.once('message', (_topic, payload) => resolve(JSON.parse(payload.toString()) as AttestationResponse)));
    let answer = next();
    await client.publishAsync(deviceTopic(id, 'attestRequest'), '{}', { qos: 1 });
    const nonce = await answer;
    if (nonce.type !== 'nonce') return nonce;
    answer = next();
    const evidence = createSignedEvidence(device.security, device.identityCertificatePem, nonce.nonce, demoBootState());
    await client.publishAsync(deviceTopic(id, 'attestEvidence'), JSON.stringify(evidence), { qos: 1 });
    return answer;
  }

  it('closes sockets that never finish the TLS handshake, holds the cap, and still lets a device attest', async () => {
    // A device that connected before the flood keeps its session and attests during it.
    const settled = await claimedDevice();
    const settledClient = await connectIdentity(settled);
    const timeoutsBefore = await scrapeMetric(gateway.url, 'rampart_gateway_denials_total', 'reason="handshake_timeout"');
    const overloadBefore = await scrapeMetric(gateway.url, 'rampart_gateway_denials_total', 'reason="overloaded"');

    const started = Date.now();
    const closedAfter: number[] = [];
    const sockets: Socket[] = [];
    await Promise.all(
      Array.from(
        { length: HANDSHAKE_FLOOD },
        () =>
          new Promise<void>((resolve) => {
            // Connect and say nothing: no ClientHello ever comes.
            const socket = tcpConnect({ host: '127.0.0.1', port: gateway.mqttPort });
            sockets.push(socket);
            socket.on('error', () => undefined);
            socket.resume();
            socket.once('close', () => closedAfter.push(Date.now() - started));
            socket.once('connect', () => resolve());
            socket.once('close', () => resolve());
          }),
      ),
    );
    // Past the handshake cap the gateway closes a socket at once, long before the timeout.
    await waitFor(() => closedAfter.length >= HANDSHAKE_FLOOD - MAX_HANDSHAKING, { describe: 'the excess refused at the door' });
    const refusedAtDoor = closedAfter.length;
    expect(Math.max(...closedAfter)).toBeLessThan(HANDSHAKE_TIMEOUT_MS);
    expect(refusedAtDoor).toBe(HANDSHAKE_FLOOD - MAX_HANDSHAKING);

    // While the flood holds every handshake slot, the settled device is unaffected.
    const during = await attest(settledClient, settled);
    expect(during).toMatchObject({ type: 'verdict', verdict: { pass: true } });
    await settledClient.endAsync();

    // The gateway, not the client, closes the rest once the handshake timeout has passed.
    await waitFor(() => closedAfter.length === HANDSHAKE_FLOOD, {
      timeoutMs: HANDSHAKE_TIMEOUT_MS + 10_000,
      describe: 'every flood socket closed by the server',
    });
    const heldUntilTimeout = closedAfter.slice(refusedAtDoor);
    expect(Math.min(...heldUntilTimeout)).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT_MS - 100);
    expect(heldUntilTimeout).toHaveLength(MAX_HANDSHAKING);
    await waitFor(
      async () =>
        (await scrapeMetric(gateway.url, 'rampart_gateway_denials_total', 'reason="handshake_timeout"')) - timeoutsBefore >=
        MAX_HANDSHAKING,
      { describe: 'handshake timeouts counted' },
    );
    const overloaded = (await scrapeMetric(gateway.url, 'rampart_gateway_denials_total', 'reason="overloaded"')) - overloadBefore;
    expect(overloaded).toBe(refusedAtDoor);
    await gateway.process.waitForLog((l) => l.msg === 'connections refused at the door: socket limits reached');

    // A device arriving after the flood connects and attests.
    const newcomer = await claimedDevice();
    const newcomerClient = await connectIdentity(newcomer);
    expect(await attest(newcomerClient, newcomer)).toMatchObject({ type: 'verdict', verdict: { pass: true } });
    await newcomerClient.endAsync();
    for (const socket of sockets) socket.destroy();
    console.info(
      `handshake flood: ${HANDSHAKE_FLOOD} raw TCP connects, ${refusedAtDoor} refused at the door, ` +
        `${heldUntilTimeout.length} held until closed by the server after ${Math.min(...heldUntilTimeout)}–${Math.max(...heldUntilTimeout)} ms`,
    );
  });
});
