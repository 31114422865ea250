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

  describe('the CA tiers and where their keys live', () => {
    const threeTier = {
      ...typed,
      PLATFORM_CA_KEY_FILE: undefined,
      PLATFORM_CA_CERT_FILE: '/ceremony/issuing.pem',
      PLATFORM_ROOT_CERT_FILE: '/ceremony/roots.pem',
      KEYS_PROVIDER: 'pkcs11' as const,
      PKCS11_MODULE: '/usr/lib/softhsm/libsofthsm2.so',
      PKCS11_TOKEN_LABEL: 'rampart',
      PKCS11_PIN_FILE: '/run/secrets/pin',
    };
    const problems = (input: Record<string, unknown>): string[] => {
      try {
        loadAttestationConfig(asEnv(Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined))));
        return [];
      } catch (e) {
        return (e as ConfigError).issues.map((i) => `${i.key}: ${i.message}`).sort();
      }
    };

    it('reads two tiers (the root key in a file) with software keys, as today', () => {
      expect(loadAttestationConfig(asEnv(typed)).ca).toMatchObject({
        hierarchy: { kind: 'two-tier', rootCertFile: '/pki/platform-ca.crt', rootKeyFile: '/pki/platform-ca.key' },
        keys: { kind: 'software' },
      });
    });

    it('reads three tiers with pkcs11: the issuing CA, the roots, the root CRL and the token', () => {
      const config = loadAttestationConfig(
        asEnv(
          Object.fromEntries(
            Object.entries({ ...threeTier, PLATFORM_ROOT_CRL_FILE: '/ceremony/root.crl' }).filter(([, v]) => v !== undefined),
          ),
        ),
      );
      expect(config.ca.hierarchy).toEqual({
        kind: 'three-tier',
        issuingCertFile: '/ceremony/issuing.pem',
        rootCertFile: '/ceremony/roots.pem',
        rootCrlFile: '/ceremony/root.crl',
      });
      expect(config.ca.keys).toMatchObject({ kind: 'pkcs11', pkcs11: { tokenLabel: 'rampart', pinFile: '/run/secrets/pin' } });
    });

    it('refuses a CA key file with pkcs11, and pkcs11 without the roots, by name', () => {
      expect(problems({ ...threeTier, PLATFORM_CA_KEY_FILE: '/pki/platform-ca.key', PLATFORM_ROOT_CERT_FILE: undefined })).toEqual([
        expect.stringMatching(/^PLATFORM_CA_KEY_FILE: refused with KEYS_PROVIDER=pkcs11/),
        expect.stringMatching(/^PLATFORM_ROOT_CERT_FILE: required with KEYS_PROVIDER=pkcs11/),
      ]);
    });

    it('needs no key-encryption key with pkcs11 when a nonce key is given; software keys need it (they seal with it)', () => {
      const nonceKey = Buffer.alloc(32, 9).toString('base64');
      const config = loadAttestationConfig(
        asEnv(
          Object.fromEntries(
            Object.entries({ ...threeTier, CA_KEY_ENCRYPTION_KEY: undefined, ATTESTATION_NONCE_KEY: nonceKey }).filter(
              ([, v]) => v !== undefined,
            ),
          ),
        ),
      );
      expect(config.ca.keyEncryptionKey).toBeUndefined();
      expect(config.ca.nonceSecret).toEqual(Buffer.from(nonceKey, 'base64'));
      // Without a nonce key the key-encryption key keys the nonces, as before the setting existed.
      expect(loadAttestationConfig(asEnv(typed)).ca.nonceSecret).toEqual(Buffer.from(typed.CA_KEY_ENCRYPTION_KEY!, 'base64'));
      expect(problems({ ...threeTier, CA_KEY_ENCRYPTION_KEY: undefined })).toEqual([
        expect.stringMatching(/^ATTESTATION_NONCE_KEY: required with KEYS_PROVIDER=pkcs11 when CA_KEY_ENCRYPTION_KEY is not given/),
      ]);
      expect(problems({ ...typed, CA_KEY_ENCRYPTION_KEY: undefined })).toEqual([
        expect.stringMatching(/^CA_KEY_ENCRYPTION_KEY: required with KEYS_PROVIDER=software/),
      ]);
    });

    it('refuses software keys without the root key file, and roots or a root CRL with software keys (two tiers)', () => {
      expect(problems({ ...typed, PLATFORM_CA_KEY_FILE: undefined })).toEqual([
        expect.stringMatching(/^PLATFORM_CA_KEY_FILE: required with KEYS_PROVIDER=software/),
      ]);
      expect(problems({ ...typed, PLATFORM_ROOT_CERT_FILE: '/r.pem', PLATFORM_ROOT_CRL_FILE: '/r.crl' })).toEqual([
        expect.stringMatching(/^PLATFORM_ROOT_CERT_FILE: only with KEYS_PROVIDER=pkcs11/),
        expect.stringMatching(/^PLATFORM_ROOT_CRL_FILE: only with KEYS_PROVIDER=pkcs11/),
      ]);
    });

    it('refuses a half-configured token beside the other bad keys', () => {
      expect(problems({ ...threeTier, PKCS11_PIN_FILE: undefined, HTTP_PORT: 70_000 })).toEqual([
        expect.stringMatching(/^HTTP_PORT: /),
        expect.stringMatching(/^PKCS11_PIN_FILE: required with KEYS_PROVIDER=pkcs11/),
      ]);
    });
  });
});
