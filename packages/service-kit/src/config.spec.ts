import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { type ConfigError, commonEnvShape, env, loadConfig, withBusChoice } from './config.js';

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

  it("takes a NATS cluster's seed URLs separated by commas, and STREAM_REPLICAS from 1 to 5", () => {
    const common = z.object(commonEnvShape);
    expect(loadConfig('svc', common, { NATS_URL: 'nats://a:4222, nats://b:4222,tls://c:4222', STREAM_REPLICAS: '3' })).toMatchObject({
      NATS_URL: 'nats://a:4222, nats://b:4222,tls://c:4222',
      STREAM_REPLICAS: 3,
    });
    expect(() => loadConfig('svc', common, { NATS_URL: 'nats://a:4222,http://b:4222' })).toThrow(/NATS_URL/);
    expect(() => loadConfig('svc', common, { STREAM_REPLICAS: '7' })).toThrow(/STREAM_REPLICAS/);
  });

  describe(withBusChoice.name, () => {
    const service = withBusChoice(z.object({ ...commonEnvShape, HTTP_PORT: env.port().default(8080) }));
    const keysOf = (source: Record<string, string>): string[] => {
      try {
        loadConfig('svc', service, source);
        return [];
      } catch (e) {
        return (e as ConfigError).issues.map((i) => i.key).sort();
      }
    };

    it('refuses a service with no NATS_URL unless the in-process bus is chosen, naming it beside every other bad key', () => {
      expect(keysOf({})).toEqual(['NATS_URL']);
      expect(keysOf({ STREAM_REPLICAS: '7', HTTP_PORT: 'x' })).toEqual(['HTTP_PORT', 'NATS_URL', 'STREAM_REPLICAS']);
      expect(loadConfig('svc', service, { NATS_URL: 'nats://127.0.0.1:4222' })).toMatchObject({ BUS: 'nats' });
      expect(loadConfig('svc', service, { BUS: 'in-process' })).toMatchObject({ BUS: 'in-process' });
    });

    it('refuses an in-process bus beside a NATS_URL, and an unknown bus', () => {
      expect(keysOf({ BUS: 'in-process', NATS_URL: 'nats://127.0.0.1:4222' })).toEqual(['BUS']);
      expect(keysOf({ BUS: 'carrier-pigeon', NATS_URL: 'nats://127.0.0.1:4222' })).toEqual(['BUS']);
    });
  });
});
