import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, configPath, readConfig, writeConfig, type CliConfig } from './config-file.js';
import { NotLoggedInError, resolveApi, resolveConnection } from './connection.js';

const config: CliConfig = {
  contexts: { dev: { api: 'http://dev:8000', token: 'dev-token' }, prod: { api: 'http://prod:8000/', token: 'prod-token' } },
  current: 'dev',
};

describe(resolveConnection.name, () => {
  it('takes flags over the environment over the current context', () => {
    expect(resolveConnection({}, {}, config)).toEqual({ api: 'http://dev:8000', token: 'dev-token', context: 'dev' });
    expect(resolveConnection({}, { RAMPART_CONTEXT: 'prod' }, config)).toEqual({
      api: 'http://prod:8000',
      token: 'prod-token',
      context: 'prod',
    });
    expect(resolveConnection({ context: 'dev' }, { RAMPART_CONTEXT: 'prod' }, config).token).toBe('dev-token');
    expect(resolveConnection({}, { RAMPART_API: 'http://env', RAMPART_TOKEN: 'env-token' }, config)).toMatchObject({
      api: 'http://env',
      token: 'env-token',
    });
    expect(
      resolveConnection({ api: 'http://flag', token: 'flag-token' }, { RAMPART_API: 'http://env', RAMPART_TOKEN: 'env-token' }, config),
    ).toMatchObject({
      api: 'http://flag',
      token: 'flag-token',
    });
  });

  it('tells the user to log in when nothing names an API and a token', () => {
    expect(() => resolveConnection({}, {}, { contexts: {}, current: null })).toThrow(NotLoggedInError);
    expect(() => resolveConnection({}, {}, { contexts: {}, current: null })).toThrow(/rampart login/);
    expect(() => resolveConnection({ api: 'http://x' }, {}, { contexts: {}, current: null })).toThrow(/not logged in to http:\/\/x/);
  });

  it('finds the API alone for public routes, with the same precedence', () => {
    const tokenless: CliConfig = { contexts: {}, current: null };
    expect(resolveApi({ api: 'http://flag/' }, {}, tokenless)).toBe('http://flag');
    expect(resolveApi({}, { RAMPART_API: 'http://env' }, tokenless)).toBe('http://env');
    expect(resolveApi({}, {}, config)).toBe('http://dev:8000');
    expect(() => resolveApi({}, {}, tokenless)).toThrow(/rampart login/);
  });

  it('refuses a context that does not exist, naming the known ones', () => {
    expect(() => resolveConnection({ context: 'staging' }, {}, config)).toThrow(/no context "staging" \(known: dev, prod\)/);
  });
});

describe('config file', () => {
  let home: string;
  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'rampart-config-'));
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('lives under XDG_CONFIG_HOME, else ~/.config', () => {
    expect(configPath({ XDG_CONFIG_HOME: '/x/cfg', HOME: '/home/u' })).toBe('/x/cfg/rampart/config.json');
    expect(configPath({ HOME: '/home/u' })).toBe('/home/u/.config/rampart/config.json');
    expect(configPath({ XDG_CONFIG_HOME: 'relative', HOME: '/home/u' })).toBe('/home/u/.config/rampart/config.json');
  });

  it('is written 0600 in a 0700 directory and read back; a missing file is an empty config', async () => {
    const path = configPath({ XDG_CONFIG_HOME: home });
    expect(await readConfig(path)).toEqual({ contexts: {}, current: null });
    await writeConfig(path, config);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(path))).mode & 0o777).toBe(0o700);
    expect(await readConfig(path)).toEqual(config);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(config);
  });

  it('refuses a file others can read, with the chmod that fixes it', async () => {
    const path = configPath({ XDG_CONFIG_HOME: home });
    await writeConfig(path, config);
    await chmod(path, 0o644);
    await expect(readConfig(path)).rejects.toThrow(ConfigError);
    await expect(readConfig(path)).rejects.toThrow(`chmod 600 ${path}`);
  });

  it('refuses a malformed file, saying how to recover', async () => {
    const path = configPath({ XDG_CONFIG_HOME: home });
    await writeConfig(path, config);
    await writeFile(path, '{"contexts": {"a": {"api": 1}}}', { mode: 0o600 });
    await expect(readConfig(path)).rejects.toThrow(/context "a" needs "api" and "token".*rampart login/);
  });
});
