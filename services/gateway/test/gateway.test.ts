import { createConnection } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { SecuritySubsystem } from '@rampart/emulator';
import { CertificateAuthority, tenantUri } from '@rampart/trust';
import { ReceivedFailureBatchSchema, ReceivedHeartbeatBatchSchema, type ReceivedHeartbeat, Stream, Subject } from '@rampart/contracts';
import { decodeJson, encodeJson } from '@rampart/service-kit';
import { issueCustomCertificate, waitFor } from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayHarness, closed, connected, reading, socketClosed, type TestDevice } from './gateway-harness.js';

function connectPacket(clientId: string): Buffer {
  return mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 30 });
}

describe('gateway', () => {
  let gw: GatewayHarness;

  beforeAll(async () => {
    gw = await GatewayHarness.start({ CONNECT_TIMEOUT_MS: '500', MAX_PACKET_BYTES: '4096' });
  });

  afterAll(async () => {
    await gw?.close();
  });

  describe('the telemetry path', () => {
    it('acknowledges a QoS 1 reading only once it is in the stream, with the certified device id', async () => {
      const device = await gw.device();
      const client = gw.client(device);
      await connected(client);
      await client.publishAsync(`devices/${device.id}/telemetry`, reading(1), { qos: 1 });
      await waitFor(() => gw.received.some((r) => (r as { deviceId: string }).deviceId === device.id), { describe: 'reading in stream' });
      await client.endAsync();
    });

    it('acknowledges and discards a malformed reading, counts it, and keeps the session', async () => {
      const device = await gw.device();
      const client = gw.client(device);
      await connected(client);
      const before = gw.totals.denials['malformed_payload'] ?? 0;
      await client.publishAsync(`devices/${device.id}/telemetry`, '{"seq": "x"}', { qos: 1 });
      await client.publishAsync(`devices/${device.id}/telemetry`, 'not json', { qos: 1 });
      expect(gw.totals.denials['malformed_payload']).toBe(before + 2);
      expect(client.connected).toBe(true);
      await client.publishAsync(`devices/${device.id}/telemetry`, reading(2), { qos: 1 });
      await client.endAsync();
    });

    it('never stores a retained device message', async () => {
      const device = await gw.device();
      const client = gw.client(device);
      await connected(client);
      const before = gw.totals.denials['retain_refused'] ?? 0;
      await client.publishAsync(`devices/${device.id}/telemetry`, reading(3), { qos: 1, retain: true });
      expect(gw.totals.denials['retain_refused']).toBe(before + 1);
      await client.endAsync();
      const observer = await gw.device();
      const watcher = gw.client(observer);
      await connected(watcher);
      const got: string[] = [];
      watcher.on('message', (topic) => got.push(topic));
      // Even a filter the ACL would allow receives no retained message from the device.
      await watcher.subscribeAsync(`devices/${observer.id}/commands/#`, { qos: 1 });
      await watcher.endAsync();
      expect(got).toEqual([]);
    });
  });

  describe('failure reports', () => {
    it('puts a valid report on the FAILURES stream under the certified device id; refuses a malformed or lying one', async () => {
      const stored: Array<{ deviceId: string; tenantId: string | null; report: { seq: number; kind: string } }> = [];
      const consumer = await gw.bus.consumeDurable(
        {
          stream: Stream.failures.name,
          durable: 'test-failures',
          filterSubject: Subject.failuresReportReceived,
          maxAckPending: 100,
          ackWaitMs: 5_000,
        },
        (m) => {
          stored.push(...ReceivedFailureBatchSchema.parse(decodeJson(m.data)).reports);
          m.ack();
        },
      );
      try {
        const device = await gw.device();
        const client = gw.client(device);
        await connected(client);
        const report = {
          seq: 1,
          at: Date.now(),
          kind: 'app-crash',
          component: 'app:sensor',
          version: '1.0.0',
          exitCode: 1,
          signal: null,
          message: 'TypeError: x is undefined',
          frames: [{ function: 'tick', file: 'app:sensor@1.0.0', line: 3, column: 9 }],
        };
        await client.publishAsync(`devices/${device.id}/failures`, JSON.stringify(report), { qos: 1 });
        // Resent after a lost PUBACK: the stream holds both; the failures service stores it once (device id + seq).
        await client.publishAsync(`devices/${device.id}/failures`, JSON.stringify(report), { qos: 1 });
        const refusedBefore = gw.totals.denials['malformed_payload'] ?? 0;
        await client.publishAsync(`devices/${device.id}/failures`, '{"seq":2', { qos: 1 });
        await client.publishAsync(`devices/${device.id}/failures`, JSON.stringify({ ...report, seq: 3, deviceId: 'f'.repeat(64) }), {
          qos: 1,
        });
        await waitFor(() => stored.some((r) => r.deviceId === device.id), { describe: 'report stored' });
        await new Promise((r) => setTimeout(r, 200));
        await waitFor(() => stored.filter((r) => r.deviceId === device.id).length === 2, { describe: 'both copies in the stream' });
        expect(stored.filter((r) => r.deviceId === device.id).map((r) => r.report.seq)).toEqual([1, 1]);
        // The tenant comes from the operational certificate, like the device id.
        expect(stored.find((r) => r.deviceId === device.id)?.tenantId).toBe('test');
        expect(gw.totals.denials['malformed_payload']).toBe(refusedBefore + 2);
        await client.endAsync();
      } finally {
        await consumer.close();
      }
    });
  });

  describe('uptime heartbeats', () => {
    it('puts a valid heartbeat on the FAILURES stream under the certified device and tenant; refuses one longer than an hour', async () => {
      const stored: ReceivedHeartbeat[] = [];
      const consumer = await gw.bus.consumeDurable(
        {
          stream: Stream.failures.name,
          durable: 'test-heartbeats',
          filterSubject: Subject.failuresHeartbeatReceived,
          maxAckPending: 100,
          ackWaitMs: 5_000,
        },
        (m) => {
          stored.push(...ReceivedHeartbeatBatchSchema.parse(decodeJson(m.data)).heartbeats);
          m.ack();
        },
      );
      try {
        const device = await gw.device();
        const client = gw.client(device);
        await connected(client);
        const now = Date.now();
        const heartbeat = { seq: 1, from: now - 60_000, to: now, running: [{ component: 'os', version: '1.0.0' }] };
        await client.publishAsync(`devices/${device.id}/heartbeat`, JSON.stringify(heartbeat), { qos: 1 });
        const refusedBefore = gw.totals.denials['malformed_payload'] ?? 0;
        await client.publishAsync(`devices/${device.id}/heartbeat`, JSON.stringify({ ...heartbeat, seq: 2, from: now - 7_200_000 }), {
          qos: 1,
        });
        await waitFor(() => stored.some((h) => h.deviceId === device.id), { describe: 'heartbeat stored' });
        expect(stored.filter((h) => h.deviceId === device.id)).toEqual([
          expect.objectContaining({ deviceId: device.id, tenantId: 'test', heartbeat }),
        ]);
        expect(gw.totals.denials['malformed_payload']).toBe(refusedBefore + 1);
        await client.endAsync();
      } finally {
        await consumer.close();
      }
    });
  });

  describe('topic ACL', () => {
    it.each(['#', '+/#', 'devices/+/telemetry', 'devices/#', '$SYS/#', 'devices/OTHER/commands/#'])(
      'refuses subscribing to %s with 0x80 in the SUBACK and keeps the session [MQTT-3.9.3]',
      async (filter) => {
        const device = await gw.device();
        const client = gw.client(device);
        await connected(client);
        const other = await gw.device();
        // mqtt.js reports a refused filter as an error carrying the SUBACK.
        const error = (await client.subscribeAsync(filter.replace('OTHER', other.id), { qos: 1 }).catch((e: unknown) => e)) as {
          packet?: { granted?: number[] };
        };
        expect(error.packet?.granted).toEqual([128]);
        expect(client.connected).toBe(true);
        await client.endAsync();
      },
    );

    it.each([
      ['another device', (_me: string, other: string) => `devices/${other}/telemetry`, 'topic_not_allowed'],
      ['$SYS', () => '$SYS/broker/uptime', 'topic_not_allowed'],
      ['an unknown topic', (me: string) => `devices/${me}/firmware`, 'unknown_topic'],
    ])('closes the connection on a publish to %s [MQTT-3.3.5-2]', async (_label, topicOf, reason) => {
      const device = await gw.device();
      const other = await gw.device();
      const client = gw.client(device);
      await connected(client);
      const before = gw.totals.denials[reason] ?? 0;
      const gone = closed(client);
      client.publish(topicOf(device.id, other.id), reading(1), { qos: 1 });
      await gone;
      expect(gw.totals.denials[reason]).toBe(before + 1);
    });

    it('refuses a connection whose will targets another device', async () => {
      const device = await gw.device();
      const other = await gw.device();
      const before = gw.totals.denials['topic_not_allowed'] ?? 0;
      const client = gw.client(device, {
        will: { topic: `devices/${other.id}/telemetry`, payload: Buffer.from(reading(1)), qos: 1, retain: false },
      });
      await expect(connected(client)).rejects.toThrow();
      client.end(true);
      expect(gw.totals.denials['topic_not_allowed']).toBe(before + 1);
    });
  });

  describe('credentials', () => {
    it('lets a device on its manufacturer identity attest, and nothing else', async () => {
      const device = await gw.identityDevice();
      const client = gw.client(device);
      await connected(client);
      const refused = (await client.subscribeAsync(`devices/${device.id}/commands/#`, { qos: 1 }).catch((e: unknown) => e)) as {
        packet?: { granted?: number[] };
      };
      expect(refused.packet?.granted).toEqual([128]);
      await client.subscribeAsync(`devices/${device.id}/attest/response`, { qos: 1 });
      // No attestation service is running here: the gateway answers with the bus error.
      const answer = new Promise<string>((resolve) => client.once('message', (_topic, payload) => resolve(payload.toString())));
      await client.publishAsync(`devices/${device.id}/attest/request`, '{}', { qos: 1 });
      expect(JSON.parse(await answer)).toMatchObject({ type: 'error', code: 'UNAVAILABLE' });
      // A failed call frees the device: the same connection is answered again, without reconnecting (issue 13, item 13).
      const again = new Promise<string>((resolve) => client.once('message', (_topic, payload) => resolve(payload.toString())));
      await client.publishAsync(`devices/${device.id}/attest/request`, '{}', { qos: 1 });
      expect(JSON.parse(await again)).toMatchObject({ type: 'error', code: 'UNAVAILABLE' });
      const before = gw.totals.denials['not_attested'] ?? 0;
      const gone = closed(client);
      client.publish(`devices/${device.id}/telemetry`, reading(1), { qos: 1 });
      await gone;
      expect(gw.totals.denials['not_attested']).toBe(before + 1);
    });
  });

  describe('attestation limits', () => {
    it('limits attestation messages per device identity, so reconnecting does not reset them (issue 13, item 7)', async () => {
      const limited = await GatewayHarness.start({ ATTEST_BURST: '2', ATTEST_RATE_PER_MIN: '1' });
      try {
        const device = await limited.identityDevice();
        const ask = async (): Promise<{ type: string; code?: string }> => {
          const client = limited.client(device);
          await connected(client);
          await client.subscribeAsync(`devices/${device.id}/attest/response`, { qos: 1 });
          const answer = new Promise<string>((resolve) => client.once('message', (_topic, payload) => resolve(payload.toString())));
          await client.publishAsync(`devices/${device.id}/attest/request`, '{}', { qos: 1 });
          const parsed = JSON.parse(await answer) as { type: string; code?: string };
          await client.endAsync();
          return parsed;
        };
        const before = limited.totals.denials['rate_limited'] ?? 0;
        // A new connection each time: the burst of 2 is spent by the identity, not by the connection.
        expect([(await ask()).code, (await ask()).code, (await ask()).code]).toEqual(['UNAVAILABLE', 'UNAVAILABLE', 'RATE_LIMITED']);
        expect(limited.totals.denials['rate_limited']).toBe(before + 1);
        // Another device is not affected.
        const other = await limited.identityDevice();
        const client = limited.client(other);
        await connected(client);
        await client.subscribeAsync(`devices/${other.id}/attest/response`, { qos: 1 });
        const answer = new Promise<string>((resolve) => client.once('message', (_topic, payload) => resolve(payload.toString())));
        await client.publishAsync(`devices/${other.id}/attest/request`, '{}', { qos: 1 });
        expect(JSON.parse(await answer)).toMatchObject({ code: 'UNAVAILABLE' });
        await client.endAsync();
      } finally {
        await limited.close();
      }
    });
  });

  describe('tenant CA rotation', () => {
    it('accepts operational certificates from the old and the new tenant CA alike (both chain to the platform root)', async () => {
      const older = await gw.device();
      const newer = await gw.deviceFromNewTenantCa();
      for (const device of [older, newer]) {
        const client = gw.client(device);
        await connected(client);
        await client.publishAsync(`devices/${device.id}/telemetry`, reading(1), { qos: 1 });
        await client.endAsync();
      }
    });
  });

  describe('revocation', () => {
    it('disconnects a revoked device within seconds, refuses it until un-revoked, and counts it', async () => {
      const device = await gw.device();
      const client = gw.client(device);
      await connected(client);
      const gone = closed(client);
      const before = gw.totals.denials['device_revoked'] ?? 0;
      await gw.bus.broadcast(Subject.attestationDeviceRevocation, encodeJson({ deviceId: device.id, revoked: true, reason: 'stolen' }));
      await gone;
      const again = gw.client(device);
      await expect(connected(again)).rejects.toThrow(/Not authorized/i);
      again.end(true);
      expect(gw.totals.denials['device_revoked']).toBe(before + 2);
      await gw.bus.broadcast(Subject.attestationDeviceRevocation, encodeJson({ deviceId: device.id, revoked: false, reason: null }));
      await waitFor(
        async () => {
          const retry = gw.client(device);
          try {
            await connected(retry);
            await retry.endAsync();
            return true;
          } catch {
            retry.end(true);
            return false;
          }
        },
        { describe: 'readmitted after un-revoke' },
      );
    });
  });

  describe('authentication', () => {
    it('refuses a client id that is not the certified device id (CONNACK 0x02)', async () => {
      const device = await gw.device();
      const other = await gw.device();
      const before = gw.totals.denials['client_id_mismatch'] ?? 0;
      const protocolErrors = gw.totals.denials['protocol_error'] ?? 0;
      const client = gw.client(device, { clientId: other.id });
      await expect(connected(client)).rejects.toThrow(/Identifier rejected/i);
      client.end(true);
      // A whole session of another device after it: the refused connection's close has been handled by then.
      const next = gw.client(other);
      await connected(next);
      await next.endAsync();
      expect(gw.totals.denials['client_id_mismatch']).toBe(before + 1);
      // Counted once, as what it is: not also as a protocol error.
      expect(gw.totals.denials['protocol_error'] ?? 0).toBe(protocolErrors);
    });

    it('refuses a TLS client without a certificate, and says so', async () => {
      const before = gw.totals.denials['certificate_missing'] ?? 0;
      const socket = tlsConnect({ host: '127.0.0.1', port: gw.port, servername: 'localhost', ca: gw.pki.platformCa.certificatePem });
      socket.on('error', () => undefined);
      await socketClosed(socket);
      await waitFor(() => (gw.totals.denials['certificate_missing'] ?? 0) > before, { describe: 'denial counted' });
    });

    it('refuses a certificate from a manufacturer it does not trust, as untrusted', async () => {
      const rogue = await CertificateAuthority.create('rogue manufacturer');
      const security = new SecuritySubsystem();
      const cert = (await rogue.issueDeviceIdentity(security.deviceId, security.publicKeySpki)).toString('pem');
      // (an operational-looking certificate from an unknown CA is refused the same way)
      const before = gw.totals.denials['certificate_untrusted'] ?? 0;
      const client = gw.client({ id: security.deviceId, security, certificatePem: cert });
      await expect(connected(client)).rejects.toThrow();
      client.end(true);
      await waitFor(() => (gw.totals.denials['certificate_untrusted'] ?? 0) > before, { describe: 'denial counted' });
    });
  });

  describe('operational certificates refused at the door', () => {
    const HOUR = 3_600_000;
    const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

    /** A device holding a certificate from a tenant CA under the platform root, made to order. */
    async function deviceWith(
      caTenant: string,
      certificate: { tenant?: string; notBefore?: number; notAfter?: number; extendedKeyUsages?: string[] },
      harness = gw,
    ): Promise<TestDevice> {
      const ca = await harness.pki.platformCa.issueIntermediate(`Test tenant ${caTenant} CA`, 30, { tenantId: caTenant });
      const security = new SecuritySubsystem();
      const pem = await issueCustomCertificate(ca, {
        commonName: security.deviceId,
        subjectPublicKeySpki: security.publicKeySpki,
        notBefore: new Date(certificate.notBefore ?? Date.now() - HOUR),
        notAfter: new Date(certificate.notAfter ?? Date.now() + HOUR),
        ...(certificate.extendedKeyUsages === undefined ? {} : { extendedKeyUsages: certificate.extendedKeyUsages }),
        sanUris: [`urn:rampart:device:${security.deviceId}`, tenantUri(certificate.tenant ?? caTenant)],
      });
      return { id: security.deviceId, security, certificatePem: `${pem.trim()}\n${ca.certificatePem.trim()}\n` };
    }

    async function expectRefused(harness: GatewayHarness, device: TestDevice, reason: string): Promise<void> {
      const before = harness.totals.denials[reason] ?? 0;
      const client = harness.client(device);
      await expect(connected(client)).rejects.toThrow();
      client.end(true);
      await waitFor(() => (harness.totals.denials[reason] ?? 0) > before, { describe: `${reason} counted` });
    }

    it('accepts a well-formed one made the same way (the control)', async () => {
      const client = gw.client(await deviceWith('test', {}));
      await connected(client);
      await client.endAsync();
    });

    it('refuses an expired certificate, and says it is expired', async () => {
      await expectRefused(
        gw,
        await deviceWith('test', { notBefore: Date.now() - 3 * HOUR, notAfter: Date.now() - HOUR }),
        'certificate_expired',
      );
    });

    it('refuses a certificate sent without its tenant CA (no chain), as untrusted', async () => {
      const device = await deviceWith('test', {});
      const leafOnly = device.certificatePem.slice(0, device.certificatePem.indexOf('-----END CERTIFICATE-----') + 25) + '\n';
      await expectRefused(gw, { ...device, certificatePem: leafOnly }, 'certificate_untrusted');
    });

    it('refuses a certificate for server authentication only (wrong purpose)', async () => {
      await expectRefused(gw, await deviceWith('test', { extendedKeyUsages: [SERVER_AUTH] }), 'certificate_invalid');
    });

    it("refuses a certificate naming another tenant than its issuing CA's", async () => {
      await expectRefused(gw, await deviceWith('test', { tenant: 'globex' }), 'wrong_tenant');
    });

    it('refuses the devices of a tenant the gateway does not serve, and admits those of one it does', async () => {
      const dedicated = await GatewayHarness.start({ ALLOWED_TENANTS: 'globex' });
      try {
        await expectRefused(dedicated, await deviceWith('test', {}, dedicated), 'wrong_tenant');
        const served = dedicated.client(await deviceWith('globex', {}, dedicated));
        await connected(served);
        await served.endAsync();
      } finally {
        await dedicated.close();
      }
    });
  });

  describe('session accounting', () => {
    /** The gauge as Prometheus scrapes it. */
    async function activeSessions(harness: GatewayHarness): Promise<number> {
      const text = await (await fetch(`${harness.running.url}/metrics`)).text();
      const value = /^rampart_gateway_connections_active(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1];
      return Number(value ?? Number.NaN);
    }

    it('counts live sessions: a burst of connections with one identity leaves the gauge at 0, not below, once all are gone', async () => {
      const own = await GatewayHarness.start();
      try {
        const device = await own.device();
        const session = own.client(device);
        await connected(session);
        expect(await activeSessions(own)).toBe(1);
        // The same identity connecting many times at once, each dropped right after its CONNECT, as issue 13's flood did.
        const sockets = await Promise.all(Array.from({ length: 40 }, () => own.rawSocket(device)));
        const closing = sockets.map((socket) => socketClosed(socket));
        for (const socket of sockets) {
          socket.on('error', () => undefined);
          socket.end(connectPacket(device.id));
        }
        await Promise.all(closing);
        for (const socket of sockets) socket.destroy();
        await session.endAsync();
        await waitFor(async () => (await activeSessions(own)) === 0, { describe: 'no sessions counted' });
        // Aedes's own count drifts here; ours must not.
        expect(own.running.gateway.connectedClients).toBe(0);
      } finally {
        await own.close();
      }
    });

    it('counts a keepalive that expired as keepalive_timeout, not as a protocol error [MQTT-3.1.2-24]', async () => {
      const device = await gw.device();
      const before = gw.totals.denials['keepalive_timeout'] ?? 0;
      const protocolErrors = gw.totals.denials['protocol_error'] ?? 0;
      const socket = await gw.rawSocket(device);
      socket.on('error', () => undefined);
      // Keepalive 1 s: the gateway closes the connection after 1.5 s of silence.
      socket.write(
        mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: device.id, keepalive: 1 }),
      );
      await socketClosed(socket);
      await waitFor(() => (gw.totals.denials['keepalive_timeout'] ?? 0) === before + 1, { describe: 'keepalive timeout counted' });
      expect(gw.totals.denials['protocol_error'] ?? 0).toBe(protocolErrors);
    });
  });

  describe('connection cap', () => {
    it('counts every open socket against MAX_CONNECTIONS, sessions and handshakes alike, and refuses the excess at once', async () => {
      const capped = await GatewayHarness.start({ MAX_CONNECTIONS: '2' });
      try {
        const device = await capped.device();
        const session = capped.client(device);
        await connected(session);
        // A socket that has not even started its handshake takes the second slot.
        const idle = createConnection({ host: '127.0.0.1', port: capped.port });
        idle.on('error', () => undefined);
        await new Promise((resolve) => idle.once('connect', resolve));
        const before = capped.totals.denials['overloaded'] ?? 0;
        const excess = capped.client(await capped.device());
        await expect(connected(excess)).rejects.toThrow();
        excess.end(true);
        await waitFor(() => (capped.totals.denials['overloaded'] ?? 0) === before + 1, { describe: 'refusal counted' });
        idle.destroy();
        await session.endAsync();
      } finally {
        await capped.close();
      }
    });

    it('answers a CONNECT past the session limit with CONNACK 0x03 (server unavailable), so the device backs off [MQTT-3.2.2.3]', async () => {
      // The development listener has no socket front, so a second CONNECT reaches the session limit instead of the door.
      const full = await GatewayHarness.start({ MAX_CONNECTIONS: '1', DEV_LISTENER_PORT: '0' });
      const plain = (id: string): MqttClient =>
        mqtt.connect({ host: '127.0.0.1', port: full.running.devPort, protocolVersion: 4, clientId: id, reconnectPeriod: 0 });
      try {
        const session = plain((await full.device()).id);
        await connected(session);
        const before = full.totals.denials['overloaded'] ?? 0;
        const refused = plain((await full.device()).id);
        await expect(connected(refused)).rejects.toMatchObject({ code: 0x03 });
        refused.end(true);
        expect(full.totals.denials['overloaded']).toBe(before + 1);
        await session.endAsync();
      } finally {
        await full.close();
      }
    });
  });

  describe('protocol versions', () => {
    it('offers TLS 1.2 clients only ECDHE suites with an AEAD cipher: no CBC, no SHA-1, no static RSA', async () => {
      /** What the gateway says of a TLS 1.2 client offering only `cipher` (and no certificate). */
      async function refusalFor(cipher: string): Promise<string> {
        const before = { ...gw.totals.denials };
        const socket = tlsConnect({
          host: '127.0.0.1',
          port: gw.port,
          servername: 'localhost',
          maxVersion: 'TLSv1.2',
          ciphers: cipher,
          rejectUnauthorized: false,
        });
        socket.on('error', () => undefined);
        await socketClosed(socket);
        return waitFor(() => Object.keys(gw.totals.denials).find((reason) => (gw.totals.denials[reason] ?? 0) > (before[reason] ?? 0)), {
          describe: `the refusal of ${cipher} counted`,
        });
      }
      // Refused at the cipher: nothing to agree on.
      for (const weak of [
        'AES128-SHA',
        'AES128-GCM-SHA256',
        'ECDHE-ECDSA-AES128-SHA',
        'ECDHE-ECDSA-AES128-SHA256',
        'ECDHE-ECDSA-AES256-SHA384',
      ]) {
        expect(await refusalFor(weak), weak).toBe('tls_handshake_failed');
      }
      // Agreed, and refused only later for the missing client certificate.
      for (const strong of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
        expect(await refusalFor(strong), strong).toBe('certificate_missing');
      }
    });

    it('refuses MQTT 3.1 ("MQIsdp") with CONNACK 0x01 and closes the connection [MQTT-3.1.2-2]', async () => {
      const device = await gw.device();
      const before = gw.totals.denials['unsupported_protocol'] ?? 0;
      const socket = await gw.rawSocket(device);
      socket.on('error', () => undefined);
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.write(
        mqttPacket.generate({ cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clean: true, clientId: device.id, keepalive: 30 }),
      );
      await socketClosed(socket);
      // CONNACK: type 2, remaining length 2, no session, return code 1 (unacceptable protocol version).
      expect(Buffer.concat(received)).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x01]));
      expect(gw.totals.denials['unsupported_protocol']).toBe(before + 1);
      // And the same device speaking 3.1.1 is served.
      const client = gw.client(device);
      await connected(client);
      await client.endAsync();
    });
  });

  describe('hostile input', () => {
    it('closes a connection that never sends CONNECT', async () => {
      const device = await gw.device();
      const before = gw.totals.denials['connect_timeout'] ?? 0;
      const socket = await gw.rawSocket(device);
      await socketClosed(socket);
      expect(gw.totals.denials['connect_timeout']).toBe(before + 1);
    });

    it('closes a connection that declares a 256 MB packet, before buffering it', async () => {
      const device = await gw.device();
      const before = gw.totals.denials['packet_too_large'] ?? 0;
      const heapBefore = process.memoryUsage().heapUsed;
      const socket = await gw.rawSocket(device);
      socket.on('error', () => undefined);
      socket.write(connectPacket(device.id));
      // PUBLISH with Remaining Length 268,435,455, then a trickle of body.
      socket.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]));
      socket.write(Buffer.alloc(1024));
      await socketClosed(socket);
      expect(gw.totals.denials['packet_too_large']).toBe(before + 1);
      expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
    });

    it('closes a connection that sends a packet over the size limit', async () => {
      const device = await gw.device();
      const client = gw.client(device);
      await connected(client);
      const before = gw.totals.denials['packet_too_large'] ?? 0;
      const gone = closed(client);
      client.publish(`devices/${device.id}/telemetry`, Buffer.alloc(8192, 0x20), { qos: 0 });
      await gone;
      expect(gw.totals.denials['packet_too_large']).toBe(before + 1);
    });

    it('closes a connection that sends garbage instead of MQTT', async () => {
      const device = await gw.device();
      const socket = await gw.rawSocket(device);
      socket.on('error', () => undefined);
      socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      await socketClosed(socket);
    });

    it('still serves devices after all of the above, and shows the counts on /metrics', async () => {
      const device = await gw.device();
      const client = gw.client(device);
      await connected(client);
      await client.publishAsync(`devices/${device.id}/telemetry`, reading(9), { qos: 1 });
      await client.endAsync();
      const text = await (await fetch(`${gw.running.url}/metrics`)).text();
      expect(text).toMatch(/rampart_gateway_denials_total\{reason="packet_too_large"[^}]*\} [1-9]/);
      expect(text).toMatch(/rampart_gateway_connections_total\{result="accepted"[^}]*\} [1-9]/);
    });
  });
});
