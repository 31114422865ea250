import { describe, expect, it } from 'vitest';
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
    for (const key of ['DATABASE_URL', 'INGEST_BATCH_SIZE', 'RETENTION_DAYS']) expect(message).toContain(key);
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
});
