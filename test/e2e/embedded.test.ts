import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@rampart/testing';
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

  it('without --once, keeps the demo fleet publishing after its report until Ctrl-C, then stops cleanly', async () => {
    const report = join(dir, 'served.json');
    const cli = ServiceProcess.start('rampart-up-served', ENTRY.cli, { LOG_LEVEL: 'warn' }, [
      'up',
      '--fleet',
      '--devices',
      '3',
      '--rate',
      '2',
      '--duration',
      '2s',
      '--data-dir',
      join(dir, 'served-data'),
      '--report',
      report,
      // Every port free: the fixed defaults may be another platform's.
      ...['--mqtt-port', '--api-port', '--gateway-http-port', '--attestation-port', '--telemetry-port', '--failures-port']
        .concat(['--updates-port', '--updates-device-port'])
        .flatMap((flag) => [flag, '0']),
    ]);
    try {
      await waitFor(() => cli.stderr.some((l) => l.startsWith('Serving until Ctrl-C')), {
        timeoutMs: 90_000,
        describe: 'the report written',
      });
      const { telemetryPublished, ok } = JSON.parse(await readFile(report, 'utf8')) as { telemetryPublished: number; ok: boolean };
      expect(ok).toBe(true);
      // Progress goes on (a plain line every 10 s without a terminal), with more published than the report counted.
      const published = () =>
        cli.stderr.map((l) => /^ +\d+s +online 3 +attested 3 +published (\d+)/.exec(l)).flatMap((m) => (m === null ? [] : [Number(m[1])]));
      await waitFor(() => published().some((n) => n > telemetryPublished), { timeoutMs: 30_000, describe: 'the fleet publishing on' });
    } finally {
      await cli.stop('SIGINT');
    }
    const { code } = await cli.exited;
    expect(code, cli.stderr.join('\n')).toBe(130);
  });
});
