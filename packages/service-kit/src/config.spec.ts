import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { type ConfigError, env, loadConfig } from './config.js';

describe('loadConfig', () => {
  const schema = z.object({ PORT: env.port(), NAME: z.string().min(1), FLAG: env.bool().default(false) });

  it('returns typed values', () => {
    expect(loadConfig('svc', schema, { PORT: '80', NAME: 'x', FLAG: 'true' })).toEqual({ PORT: 80, NAME: 'x', FLAG: true });
  });

  it('treats empty strings as unset and lists every bad key', () => {
    const error = (() => {
      try {
        loadConfig('svc', schema, { PORT: 'abc', NAME: '' });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(error.issues.map((i) => i.key)).toEqual(['PORT', 'NAME']);
    expect(error.message).toMatch(/^svc: invalid configuration: PORT: .*; NAME: /);
  });
});
