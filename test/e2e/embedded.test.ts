import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTRY, ServiceProcess } from '../support/service-process.js';

describe('embedded mode (rampart up --fleet --once)', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-embedded-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs every service in one process, with embedded PostgreSQL and the in-process bus, and loses nothing', async () => {
    const report = join(dir, 'demo.json');
    const cli = ServiceProcess.start(
      'rampart-up',
      ENTRY.cli,
      {
        DEVICES: '40',
        DURATION: '6s',
        RATE: '2',
        ONCE: '1',
        RAMPART_DATA_DIR: join(dir, 'data'),
        // Every port free, so the test never meets a platform already on the fixed defaults.
        MQTT_PORT: '0',
        API_PORT: '0',
        TELEMETRY_PORT: '0',
        ATTESTATION_PORT: '0',
        FAILURES_PORT: '0',
        UPDATES_PORT: '0',
        UPDATES_DEVICE_PORT: '0',
        GATEWAY_HTTP_PORT: '0',
        LOG_LEVEL: 'warn',
      },
      ['up', '--fleet', '--report', report, '--output', 'json'],
    );
    const { code } = await cli.exited;
    expect(code, cli.stderr.join('\n')).toBe(0);
    // The banner names the one API URL first, right under its title.
    const banner = cli.stderr.findIndex((line) => line.startsWith('Rampart is up'));
    expect(cli.stderr[banner + 1]).toMatch(/^ {2}API {2}http:\/\/127\.0\.0\.1:\d+\/v1 {3}OpenAPI http:\/\/127\.0\.0\.1:\d+\/docs/);
    const result = JSON.parse(await readFile(report, 'utf8')) as Record<string, number | string | boolean>;
    expect(result).toMatchObject({
      devices: 40,
      devicesConnected: 40,
      lost: 0,
      unacknowledged: 0,
      bus: 'in-process',
      database: 'embedded',
      ok: true,
    });
    expect(result['telemetryAcknowledged']).toBe(result['telemetryPublished']);
    expect(result['telemetryStored']).toBe(result['telemetryAcknowledged']);
    expect(Number(result['telemetryPublished'])).toBeGreaterThan(300);
    expect(result).toMatchObject({ devicesAttested: 40, attestationFailures: 0 });
    // The issued chain verifies with openssl, as the README tells a reader to check it.
    const { stdout } = await promisify(execFile)('openssl', [
      'verify',
      '-x509_strict',
      '-purpose',
      'sslclient',
      '-CAfile',
      join(dir, 'platform-root.pem'),
      '-untrusted',
      join(dir, 'ca-chain.pem'),
      join(dir, 'device-certificate.pem'),
    ]);
    expect(stdout).toMatch(/OK/);
  });
});
