import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { keyProviderConfig, keyProviderEnvShape, withKeyProviderChoice } from './key-provider-config.js';

const schema = withKeyProviderChoice(z.object(keyProviderEnvShape));

function problems(input: Record<string, string>): string[] {
  const result = schema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('key provider settings', () => {
  it('defaults to software and names nothing else', () => {
    expect(keyProviderConfig(schema.parse({}))).toEqual({ kind: 'software' });
  });

  it('gives a pkcs11 install its module, token and PIN file', () => {
    const config = keyProviderConfig(
      schema.parse({ KEYS_PROVIDER: 'pkcs11', PKCS11_MODULE: '/usr/lib/m.so', PKCS11_TOKEN_LABEL: 'rampart', PKCS11_PIN_FILE: '/run/pin' }),
    );
    expect(config).toMatchObject({
      kind: 'pkcs11',
      pkcs11: { modulePath: '/usr/lib/m.so', tokenLabel: 'rampart', pinFile: '/run/pin', sessions: 4 },
    });
  });

  it('names every missing pkcs11 setting at once', () => {
    expect(problems({ KEYS_PROVIDER: 'pkcs11' })).toEqual([
      expect.stringMatching(/^PKCS11_MODULE: required/),
      expect.stringMatching(/^PKCS11_PIN_FILE: required/),
      expect.stringMatching(/^PKCS11_TOKEN_LABEL: .*exactly one/),
    ]);
  });

  it('refuses a token named twice, a relative path, and PKCS11 settings without the pkcs11 provider', () => {
    expect(
      problems({ KEYS_PROVIDER: 'pkcs11', PKCS11_MODULE: '/m.so', PKCS11_PIN_FILE: '/pin', PKCS11_TOKEN_LABEL: 'a', PKCS11_SLOT: '0' }),
    ).toEqual([expect.stringMatching(/exactly one/)]);
    expect(problems({ KEYS_PROVIDER: 'pkcs11', PKCS11_MODULE: 'm.so', PKCS11_PIN_FILE: '/pin', PKCS11_SLOT: '0' })).toEqual([
      expect.stringMatching(/^PKCS11_MODULE: an absolute path/),
    ]);
    expect(problems({ PKCS11_MODULE: '/m.so' })).toEqual([expect.stringMatching(/^KEYS_PROVIDER: PKCS11_\* settings are given/)]);
  });
});
