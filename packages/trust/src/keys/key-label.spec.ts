import { describe, expect, it } from 'vitest';
import { InvalidKeyLabelError } from './key-errors.js';
import { checkKeyLabel, keyLabel } from './key-label.js';

describe('keyLabel', () => {
  it('names the platform or a tenant, then the purpose', () => {
    expect(keyLabel('platform', 'issuing')).toBe('rampart/platform/issuing');
    expect(keyLabel({ tenant: 'acme-1' }, 'tuf-timestamp')).toBe('rampart/acme-1/tuf-timestamp');
  });

  it('refuses a tenant id that is not one, and the reserved "platform" as a tenant', () => {
    expect(() => keyLabel({ tenant: 'Acme' }, 'ca')).toThrow(InvalidKeyLabelError);
    expect(() => keyLabel({ tenant: '../x' }, 'ca')).toThrow(/not a tenant id/);
    expect(() => keyLabel({ tenant: 'platform' }, 'ca')).toThrow(InvalidKeyLabelError);
  });

  it('refuses a purpose with separators or capitals', () => {
    expect(() => keyLabel('platform', 'a/b')).toThrow(/not a purpose/);
    expect(() => keyLabel('platform', 'CA')).toThrow(/not a purpose/);
    expect(() => keyLabel('platform', '')).toThrow(InvalidKeyLabelError);
  });
});

describe('checkKeyLabel', () => {
  it('accepts what keyLabel makes and nothing of another shape', () => {
    expect(checkKeyLabel('rampart/platform/ca')).toBe('rampart/platform/ca');
    for (const bad of ['rampart/platform', 'other/platform/ca', 'rampart/platform/ca/extra', 'rampart//ca']) {
      expect(() => checkKeyLabel(bad), bad).toThrow(InvalidKeyLabelError);
    }
  });
});
