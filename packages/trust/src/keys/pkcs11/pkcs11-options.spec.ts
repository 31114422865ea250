import { describe, expect, it } from 'vitest';
import { DEFAULT_PKCS11_SESSIONS, Pkcs11OptionsError, parsePkcs11Options } from './pkcs11-options.js';

describe('parsePkcs11Options', () => {
  it('fills in defaults', () => {
    const options = parsePkcs11Options({
      modulePath: '/usr/lib/softhsm/libsofthsm2.so',
      tokenLabel: 'rampart',
      pinFile: '/run/secrets/pin',
    });
    expect(options.sessions).toBe(DEFAULT_PKCS11_SESSIONS);
  });

  it('names every bad option at once', () => {
    let error: unknown;
    try {
      parsePkcs11Options({ modulePath: 'libsofthsm2.so', pinFile: 'pin', sessions: 0 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Pkcs11OptionsError);
    const keys = (error as Pkcs11OptionsError).issues.map((i) => i.key);
    expect(keys).toEqual(expect.arrayContaining(['modulePath', 'pinFile', 'sessions']));
  });

  it('wants the token named one way: by label or by slot', () => {
    const base = { modulePath: '/m.so', pinFile: '/pin' };
    expect(() => parsePkcs11Options(base)).toThrow(/exactly one/);
    expect(() => parsePkcs11Options({ ...base, tokenLabel: 't', slot: 1 })).toThrow(/exactly one/);
    expect(parsePkcs11Options({ ...base, slot: 0 }).slot).toBe(0);
  });
});
