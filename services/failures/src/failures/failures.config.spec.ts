import { ConfigError } from '@rampart/service-kit';
import { describe, expect, it } from 'vitest';
import { failuresConfig, loadFailuresConfig, type FailuresConfigInput } from './failures.config.js';

const typed: FailuresConfigInput = {
  BUS: 'in-process',
  HTTP_HOST: '127.0.0.1',
  HTTP_PORT: 0,
  LOG_LEVEL: 'warn',
  DATABASE_URL: 'postgres://127.0.0.1:5432/test',
  SPIKE_FACTOR: 2.5,
};

/** The same values as an environment would hold them. */
const asEnv = (input: object): Record<string, string> => Object.fromEntries(Object.entries(input).map(([k, v]) => [k, String(v)]));

describe(failuresConfig.name, () => {
  it('builds from typed values what loadFailuresConfig reads from the same values as strings, defaults included', () => {
    expect(failuresConfig(typed)).toEqual(loadFailuresConfig(asEnv(typed)));
  });

  it('refuses a bad typed value with the ConfigError naming its key', () => {
    expect(() => failuresConfig({ ...typed, SPIKE_FACTOR: 0.5 })).toThrow(ConfigError);
    expect(() => failuresConfig({ ...typed, SPIKE_FACTOR: 0.5 })).toThrow(/^failures: invalid configuration: SPIKE_FACTOR: /);
  });
});
