import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, buildConfig, commonEnvShape, env, loadConfig, withBusChoice } from './config.js';

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
  describe('secrets from files (<KEY>_FILE)', () => {
    const secretSchema = z.object({ PLATFORM_ADMIN_TOKEN: z.string().min(32), DATABASE_URL: env.url(['postgres']) });
    const dir = mkdtempSync(join(tmpdir(), 'config-secrets-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const file = (name: string, content: string): string => {
      const path = join(dir, name);
      writeFileSync(path, content);
      return path;
    };
    const issuesOf = (source: Record<string, string>): string[] => {
      try {
        loadConfig('svc', secretSchema, source);
        return [];
      } catch (e) {
        return (e as ConfigError).issues.map((i) => `${i.key}: ${i.message}`);
      }
    };

    it('reads a secret from the file its _FILE key names, without the trailing newline', () => {
      const token = 'a'.repeat(40);
      expect(
        loadConfig('svc', secretSchema, {
          PLATFORM_ADMIN_TOKEN_FILE: file('token', `${token}\n`),
          DATABASE_URL_FILE: file('url', 'postgres://u:p@db:5432/x'),
        }),
      ).toEqual({ PLATFORM_ADMIN_TOKEN: token, DATABASE_URL: 'postgres://u:p@db:5432/x' });
    });

    it("names a missing file and a key set both ways, beside the schema's own issues", () => {
      const issues = issuesOf({
        PLATFORM_ADMIN_TOKEN_FILE: join(dir, 'absent'),
        DATABASE_URL: 'postgres://db/x',
        DATABASE_URL_FILE: file('u2', 'y'),
      });
      expect(issues).toEqual([
        'DATABASE_URL_FILE: set DATABASE_URL or DATABASE_URL_FILE, not both',
        `PLATFORM_ADMIN_TOKEN_FILE: cannot read ${join(dir, 'absent')}: ENOENT`,
        expect.stringMatching(/^PLATFORM_ADMIN_TOKEN: /),
      ]);
    });

    it("leaves an empty file's key unset, so the schema calls it required", () => {
      expect(issuesOf({ PLATFORM_ADMIN_TOKEN_FILE: file('empty', ''), DATABASE_URL: 'postgres://db/x' })).toEqual([
        expect.stringMatching(/^PLATFORM_ADMIN_TOKEN: /),
      ]);
    });

    it('takes an empty _FILE key as none (a Compose override can empty a variable its base file sets, not remove it)', () => {
      expect(issuesOf({ PLATFORM_ADMIN_TOKEN_FILE: '', DATABASE_URL: 'postgres://db/x' })).toEqual([
        expect.stringMatching(/^PLATFORM_ADMIN_TOKEN: /),
      ]);
    });

    it('reads only the secrets it knows: a certificate path such as TLS_CERT_FILE stays a path', () => {
      const schema = z.object({ TLS_CERT_FILE: z.string(), TLS_CERT: z.string().optional() });
      expect(loadConfig('svc', schema, { TLS_CERT_FILE: file('cert', 'PEM') })).toEqual({ TLS_CERT_FILE: join(dir, 'cert') });
    });
  });
});

describe(buildConfig.name, () => {
  const schema = withBusChoice(z.object({ ...commonEnvShape, HTTP_PORT: env.port().default(8080), NAME: z.string().min(1) }));

  it('applies the schema and its defaults to typed values, as loadConfig does to strings', () => {
    expect(buildConfig('svc', schema, { BUS: 'in-process', HTTP_PORT: 0, NAME: 'x' })).toEqual(
      loadConfig('svc', schema, { BUS: 'in-process', HTTP_PORT: '0', NAME: 'x' }),
    );
  });

  it('takes an empty string for unset, as in the environment (BUS_PREFIX "" is the default, no prefix)', () => {
    expect(buildConfig('svc', schema, { BUS: 'in-process', BUS_PREFIX: '', NAME: 'x' })).toEqual(
      loadConfig('svc', schema, { BUS: 'in-process', BUS_PREFIX: '', NAME: 'x' }),
    );
  });

  it('names every bad key in one ConfigError, the cross-field checks included', () => {
    const error = (() => {
      try {
        buildConfig('svc', schema, { HTTP_PORT: 65_536, NAME: '' });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.key)).toEqual(['HTTP_PORT', 'NAME', 'NATS_URL']);
  });
});
