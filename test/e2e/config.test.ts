import { createTestDatabase, queryDatabase, type TestDatabase } from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTRY, ServiceProcess } from '../support/service-process.js';

describe('service start-up configuration', () => {
  it('the gateway refuses to start on a bad environment and names every bad key', async () => {
    const proc = ServiceProcess.start('gateway', ENTRY.gateway, {
      MQTT_PORT: 'eighty',
      NATS_URL: 'http://nats',
      DEV_LISTENER_PORT: '1884',
      DEV_LISTENER_HOST: '10.0.0.1',
    });
    const { code } = await proc.exited;
    expect(code).toBe(78);
    const message = proc.stderr.join('\n');
    for (const key of ['MQTT_PORT', 'NATS_URL', 'TLS_CERT_FILE', 'TLS_KEY_FILE', 'MANUFACTURER_CA_FILE', 'DEV_LISTENER_HOST']) {
      expect(message).toContain(key);
    }
  });

  it('the telemetry service refuses to start on a bad environment and names every bad key', async () => {
    const proc = ServiceProcess.start('telemetry', ENTRY.telemetry, {
      DATABASE_URL: 'mysql://db/x',
      INGEST_BATCH_SIZE: '0',
      RETENTION_DAYS: '1',
    });
    const { code } = await proc.exited;
    expect(code).toBe(78);
    const message = proc.stderr.join('\n');
    for (const key of ['DATABASE_URL', 'INGEST_BATCH_SIZE', 'RETENTION_DAYS', 'NATS_URL']) expect(message).toContain(key);
  });

  it('the attestation service refuses to start on a bad environment and names every bad key', async () => {
    const proc = ServiceProcess.start('attestation', ENTRY.attestation, {
      CA_KEY_ENCRYPTION_KEY: 'short',
      PLATFORM_ADMIN_TOKEN: 'guessable',
    });
    const { code } = await proc.exited;
    expect(code).toBe(78);
    const message = proc.stderr.join('\n');
    for (const key of [
      'DATABASE_URL',
      'PLATFORM_CA_CERT_FILE',
      'PLATFORM_CA_KEY_FILE',
      'MANUFACTURER_CA_FILE',
      'CA_KEY_ENCRYPTION_KEY',
      'PLATFORM_ADMIN_TOKEN',
      'PUBLIC_BASE_URL',
    ]) {
      expect(message).toContain(key);
    }
  });

  it('the failures service refuses to start on a bad environment and names every bad key', async () => {
    const proc = ServiceProcess.start('failures', ENTRY.failures, {
      INGEST_BATCH_SIZE: 'many',
      DEVICE_REPORTS_PER_MINUTE: '-1',
      RETENTION_DAYS: '0',
    });
    const { code } = await proc.exited;
    expect(code).toBe(78);
    const message = proc.stderr.join('\n');
    for (const key of ['DATABASE_URL', 'INGEST_BATCH_SIZE', 'DEVICE_REPORTS_PER_MINUTE', 'RETENTION_DAYS']) expect(message).toContain(key);
  });

  it('a service with an otherwise valid environment but no NATS_URL refuses to start, rather than run alone on an in-process bus', async () => {
    const proc = ServiceProcess.start('telemetry', ENTRY.telemetry, { DATABASE_URL: 'postgres://127.0.0.1:5432/test', HTTP_PORT: '0' });
    const { code } = await proc.exited;
    expect(code).toBe(78);
    expect(proc.stderr.join('\n')).toMatch(/NATS_URL: required/);
  });

  describe('migrate: what a Helm hook Job runs before new pods start', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase();
    });
    afterAll(async () => {
      await db?.drop();
    });

    it.each(['attestation', 'telemetry', 'failures', 'updates'] as const)(
      '%s migrate brings its schema up to date with DATABASE_URL alone, and a second run finds nothing to do',
      async (service) => {
        for (let run = 0; run < 2; run++) {
          const proc = ServiceProcess.start(service, ENTRY[service], { DATABASE_URL: db.url }, ['migrate']);
          const { code } = await proc.exited;
          expect(code, proc.stderr.join('\n')).toBe(0);
        }
        const applied = await queryDatabase<{ n: number }>(db.url, `SELECT count(*)::int AS n FROM "${service}".migrations`);
        expect(applied[0]!.n).toBeGreaterThan(0);
      },
    );

    it('refuses a bad DATABASE_URL (exit 78, naming it) and a service with no database (exit 64)', async () => {
      const bad = ServiceProcess.start('updates', ENTRY.updates, { DATABASE_URL: 'mysql://db/x' }, ['migrate']);
      expect((await bad.exited).code).toBe(78);
      expect(bad.stderr.join('\n')).toContain('DATABASE_URL');
      const gateway = ServiceProcess.start('gateway', ENTRY.gateway, {}, ['migrate']);
      expect((await gateway.exited).code).toBe(64);
      expect(gateway.stderr.join('\n')).toContain('unknown command');
    });
  });
});
