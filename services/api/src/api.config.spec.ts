import { ConfigError } from '@rampart/service-kit/process';
import { describe, expect, it } from 'vitest';
import { apiConfig, loadApiConfig, type ApiConfigInput } from './api.config.js';

const typed: ApiConfigInput = {
  HTTP_HOST: '127.0.0.1',
  HTTP_PORT: 0,
  LOG_LEVEL: 'warn',
  ATTESTATION_URL: 'http://127.0.0.1:41001/',
  UPDATES_URL: 'http://127.0.0.1:41002',
  FAILURES_URL: 'http://127.0.0.1:41003',
  TELEMETRY_URL: 'http://127.0.0.1:41004',
  DISCOVERY_INTERVAL_MS: 500,
};

/** The same values as an environment would hold them. */
const asEnv = (input: object): Record<string, string> => Object.fromEntries(Object.entries(input).map(([k, v]) => [k, String(v)]));

describe(apiConfig.name, () => {
  it('builds from typed values what loadApiConfig reads from the same values as strings, defaults included', () => {
    expect(apiConfig(typed)).toEqual(loadApiConfig(asEnv(typed)));
  });

  it('refuses a bad typed value with the ConfigError naming its key', () => {
    expect(() => apiConfig({ ...typed, UPDATES_URL: 'nats://127.0.0.1:4222' })).toThrow(ConfigError);
    expect(() => apiConfig({ ...typed, UPDATES_URL: 'nats://127.0.0.1:4222' })).toThrow(/^api: invalid configuration: UPDATES_URL: /);
  });
});
