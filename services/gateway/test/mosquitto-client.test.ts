import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { deviceIdFromPublicKey } from '@rampart/trust';
import { createTestTenantIssuer, waitFor } from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayHarness } from './gateway-harness.js';

const run = promisify(execFile);

/**
 * Independent check with a client we did not write: Debian's mosquitto_pub,
 * holding an operational certificate (LDevID) and its key in files, publishes
 * to its own telemetry topic and is refused elsewhere.
 */
describe('mosquitto_pub with an issued operational certificate', () => {
  let gw: GatewayHarness;
  let files: { cert: string; key: string; ca: string };
  let deviceId: string;

  beforeAll(async () => {
    gw = await GatewayHarness.start();
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    deviceId = deviceIdFromPublicKey(publicKey);
    const issue = await createTestTenantIssuer(gw.pki.platformCa);
    const issued = issue({ security: { deviceId, publicKeySpki: publicKey.export({ type: 'spki', format: 'der' }) } });
    files = { cert: join(gw.pki.dir, 'device.pem'), key: join(gw.pki.dir, 'device.key'), ca: gw.pki.files.platformCa };
    await writeFile(files.cert, `${issued.certificatePem}${issued.chainPem}`);
    await writeFile(files.key, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  });

  afterAll(async () => {
    await gw?.close();
  });

  const pub = (topic: string, message: string) =>
    run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(gw.port),
      '-V',
      'mqttv311',
      '-q',
      '1',
      '--cafile',
      files.ca,
      '--cert',
      files.cert,
      '--key',
      files.key,
      '--tls-version',
      'tlsv1.2',
      '-i',
      deviceId,
      '-t',
      topic,
      '-m',
      message,
    ]);

  it('publishes to its own telemetry topic', async () => {
    await pub(`devices/${deviceId}/telemetry`, JSON.stringify({ seq: 1, ts: Date.now(), metrics: { from_mosquitto: 1 } }));
    await waitFor(() => gw.received.some((r) => (r as { deviceId: string }).deviceId === deviceId), {
      describe: 'reading from mosquitto_pub',
    });
  });

  it("is refused on another device's topic", async () => {
    const before = gw.totals.denials['topic_not_allowed'] ?? 0;
    await pub(`devices/${'0'.repeat(64)}/telemetry`, '{}').catch((error: unknown) => error);
    await waitFor(() => (gw.totals.denials['topic_not_allowed'] ?? 0) === before + 1, { describe: 'denial counted' });
    expect(gw.received.some((r) => (r as { deviceId: string }).deviceId === '0'.repeat(64))).toBe(false);
  });
});
