import { ConfigError } from '@rampart/service-kit';
import { describe, expect, it } from 'vitest';
import { attestationConfig, loadAttestationConfig, type AttestationConfigInput } from './attestation.config.js';

const typed: AttestationConfigInput = {
  BUS: 'in-process',
  HTTP_PORT: 0,
  DATABASE_URL: 'postgres://127.0.0.1:5432/test',
  PLATFORM_CA_CERT_FILE: '/pki/platform-ca.crt',
  PLATFORM_CA_KEY_FILE: '/pki/platform-ca.key',
  MANUFACTURER_CA_FILE: '/pki/manufacturer-ca.crt',
  CA_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
  PLATFORM_ADMIN_TOKEN: 'rmp_op_'.padEnd(40, 'x'),
  PUBLIC_BASE_URL: 'http://127.0.0.1:8000/',
  NONCE_TTL_MS: 30_000,
};

/** The same values as an environment would hold them. */
const asEnv = (input: object): Record<string, string> => Object.fromEntries(Object.entries(input).map(([k, v]) => [k, String(v)]));

describe(attestationConfig.name, () => {
  it('builds from typed values what loadAttestationConfig reads from the same values as strings, defaults included', () => {
    expect(attestationConfig(typed)).toEqual(loadAttestationConfig(asEnv(typed)));
  });

  it('refuses a bad typed value with the ConfigError naming its key', () => {
    const error = (() => {
      try {
        attestationConfig({ ...typed, HTTP_PORT: 70_000, NONCE_TTL_MS: 0 });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/^attestation: invalid configuration: /);
    expect((error as ConfigError).issues.map((i) => i.key).sort()).toEqual(['HTTP_PORT', 'NONCE_TTL_MS']);
  });
});
