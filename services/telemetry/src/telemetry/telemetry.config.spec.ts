import { ConfigError } from '@rampart/service-kit';
import { describe, expect, it } from 'vitest';
import { loadTelemetryConfig, telemetryConfig, type TelemetryConfigInput } from './telemetry.config.js';

describe('loadTelemetryConfig', () => {
  it('needs a PostgreSQL URL', () => {
    expect(() => loadTelemetryConfig({})).toThrow(/DATABASE_URL/);
    expect(() => loadTelemetryConfig({ DATABASE_URL: 'mysql://x/y' })).toThrow(/DATABASE_URL: must be a postgres or postgresql URL/);
  });

  it('names every bad key, including cross-field rules', () => {
    try {
      loadTelemetryConfig({
        DATABASE_URL: 'postgres://h/db',
        INGEST_BATCH_SIZE: '5000',
        INGEST_MAX_ACK_PENDING: '100',
        RETENTION_DAYS: '1',
        LOG_LEVEL: 'loud',
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const keys = (error as ConfigError).issues.map((i) => i.key).sort();
      expect(keys).toEqual(expect.arrayContaining(['LOG_LEVEL', 'RETENTION_DAYS']));
    }
  });
});

describe(telemetryConfig.name, () => {
  const typed: TelemetryConfigInput = { BUS: 'in-process', HTTP_PORT: 0, DATABASE_URL: 'postgres://h/db', RETENTION_DAYS: 7 };
  /** The same values as an environment would hold them. */
  const asEnv = (input: object): Record<string, string> => Object.fromEntries(Object.entries(input).map(([k, v]) => [k, String(v)]));

  it('builds from typed values what loadTelemetryConfig reads from the same values as strings, defaults included', () => {
    expect(telemetryConfig(typed)).toEqual(loadTelemetryConfig(asEnv(typed)));
  });

  it('refuses a bad typed value with the ConfigError naming its key', () => {
    expect(() => telemetryConfig({ ...typed, RETENTION_DAYS: 1 })).toThrow(ConfigError);
    expect(() => telemetryConfig({ ...typed, RETENTION_DAYS: 1 })).toThrow(/^telemetry: invalid configuration: RETENTION_DAYS: /);
  });
});
