import { ConfigError } from '@rampart/service-kit';
import { describe, expect, it } from 'vitest';
import { loadUpdatesConfig, updatesConfig, type UpdatesConfigInput } from './updates.config.js';

const typed: UpdatesConfigInput = {
  NATS_URL: 'nats://127.0.0.1:4222',
  BUS_PREFIX: 'embedded',
  HTTP_PORT: 0,
  DATABASE_URL: 'postgres://127.0.0.1:5432/test',
  UPDATES_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64'),
  DEVICE_HOST: '127.0.0.1',
  DEVICE_PORT: 0,
  TLS_CERT_FILE: '/pki/gateway.crt',
  TLS_KEY_FILE: '/pki/gateway.key',
  PLATFORM_CA_FILE: '/pki/platform-ca.crt',
  MANUFACTURER_CA_FILE: '/pki/manufacturer-ca.crt',
  ROLLOUT_TICK_MS: 1_000,
};

/** The same values as an environment would hold them. */
const asEnv = (input: object): Record<string, string> => Object.fromEntries(Object.entries(input).map(([k, v]) => [k, String(v)]));

describe(updatesConfig.name, () => {
  it('builds from typed values what loadUpdatesConfig reads from the same values as strings, defaults included', () => {
    expect(updatesConfig(typed)).toEqual(loadUpdatesConfig(asEnv(typed)));
  });

  it('refuses a bad typed value with the ConfigError naming its key, cross-field rules included', () => {
    const error = (() => {
      try {
        updatesConfig({ ...typed, DEVICE_PORT: -1, ROOT_KEYS: 1, ROOT_THRESHOLD: 2 });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/^updates: invalid configuration: /);
    expect((error as ConfigError).issues.map((i) => i.key).sort()).toEqual(['DEVICE_PORT', 'ROOT_THRESHOLD']);
  });

  it('keeps TUF keys in software (sealed under the KEK, required) by default, and in a named token with KEYS_PROVIDER=pkcs11', () => {
    expect(updatesConfig(typed).keys).toEqual({ kind: 'software' });
    const { UPDATES_KEY_ENCRYPTION_KEY: _kek, ...withoutKek } = typed;
    const issues = (input: UpdatesConfigInput) => {
      try {
        updatesConfig(input);
        return [];
      } catch (e) {
        return (e as ConfigError).issues.map((i) => i.key).sort();
      }
    };
    expect(issues(withoutKek)).toEqual(['UPDATES_KEY_ENCRYPTION_KEY']);
    const token = { KEYS_PROVIDER: 'pkcs11', PKCS11_MODULE: '/usr/lib/softhsm/libsofthsm2.so', PKCS11_TOKEN_LABEL: 'rampart' } as const;
    // A half-configured token stops start-up: no PIN file named.
    expect(issues({ ...withoutKek, ...token })).toEqual(['PKCS11_PIN_FILE']);
    const config = updatesConfig({ ...withoutKek, ...token, PKCS11_PIN_FILE: '/run/secrets/pin' });
    expect(config.keys).toMatchObject({ kind: 'pkcs11', pkcs11: { tokenLabel: 'rampart', pinFile: '/run/secrets/pin' } });
    expect(config.keyEncryptionKey).toBeUndefined();
    // PKCS11_* given without KEYS_PROVIDER=pkcs11 would leave the keys in software unnoticed: refused.
    expect(issues({ ...typed, PKCS11_MODULE: '/usr/lib/softhsm/libsofthsm2.so' })).toEqual(['KEYS_PROVIDER']);
  });
});
