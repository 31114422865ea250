import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attestationEnvSchema } from '@rampart/attestation';
import { loadConfig } from '@rampart/service-kit';
import { createPrivateKey } from 'node:crypto';
import {
  FIRMWARE_SIGNING_FILES,
  PLATFORM_SECRET_FILES,
  databaseUrlWithPassword,
  initPlatformSecrets,
} from '../src/commands/secrets-init.js';

/** Every file under dir (relative name → sha256), to compare one init with the next. */
async function fingerprint(dir: string): Promise<Record<string, string>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  const hashed = await Promise.all(
    files.map(async (f): Promise<[string, string]> => [
      f.slice(dir.length + 1),
      createHash('sha256')
        .update(await readFile(f))
        .digest('hex'),
    ]),
  );
  return Object.fromEntries(hashed);
}

describe(initPlatformSecrets.name, () => {
  let dir: string;

  beforeEach(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'rampart-secrets-')), 'secrets');
  });

  afterEach(async () => {
    await rm(join(dir, '..'), { recursive: true, force: true });
  });

  it('creates every secret and the PKI on first run, owner and group read-only, and a database URL with the password', async () => {
    const first = await initPlatformSecrets({ dir, database: 'postgres://rampart@postgres:5432/rampart' });
    expect(first.kept).toEqual([]);
    expect(first.created).toEqual([...Object.keys(PLATFORM_SECRET_FILES), 'database-url', 'pki']);
    for (const name of Object.keys(PLATFORM_SECRET_FILES)) expect((await stat(join(dir, name))).mode & 0o777).toBe(0o440);
    const password = await readFile(join(dir, 'postgres-password'), 'utf8');
    expect(await readFile(join(dir, 'database-url'), 'utf8')).toBe(`postgres://rampart:${password}@postgres:5432/rampart`);
    expect((await readdir(join(dir, 'pki'))).sort()).toEqual(
      ['gateway.crt', 'gateway.key', 'manufacturer-ca.crt', 'manufacturer-ca.key', 'platform-ca.crt', 'platform-ca.key'].sort(),
    );
  });

  it('keeps every existing secret on the next run, byte for byte', async () => {
    await initPlatformSecrets({ dir, database: 'postgres://rampart@postgres:5432/rampart' });
    const before = await fingerprint(dir);
    const again = await initPlatformSecrets({ dir, database: 'postgres://rampart@postgres:5432/rampart' });
    expect(again.created).toEqual([]);
    expect(await fingerprint(dir)).toEqual(before);
  });

  it('replaces only a secret left empty (a crash between create and write)', async () => {
    await initPlatformSecrets({ dir });
    const before = await fingerprint(dir);
    await rm(join(dir, 'platform-admin-token'));
    await writeFile(join(dir, 'platform-admin-token'), '', { mode: 0o640 });
    const again = await initPlatformSecrets({ dir });
    expect(again.created).toEqual(['platform-admin-token']);
    const after = await fingerprint(dir);
    expect(after['platform-admin-token']).not.toBe(before['platform-admin-token']);
    expect({ ...after, 'platform-admin-token': '' }).toEqual({ ...before, 'platform-admin-token': '' });
  });

  it('creates the firmware signing keys in their own folder (P-256) when asked, and keeps them', async () => {
    const signing = join(dir, '..', 'firmware-signing');
    const first = await initPlatformSecrets({ dir, firmwareSigning: signing });
    expect(first.created).toEqual(expect.arrayContaining(FIRMWARE_SIGNING_FILES.map((n) => `firmware-signing ${n}`)));
    for (const name of FIRMWARE_SIGNING_FILES) {
      const key = createPrivateKey(await readFile(join(signing, name), 'utf8'));
      expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    }
    const before = await fingerprint(signing);
    expect((await initPlatformSecrets({ dir, firmwareSigning: signing })).created).toEqual([]);
    expect(await fingerprint(signing)).toEqual(before);
  });

  it('gives the attestation service what its configuration requires, through <KEY>_FILE', async () => {
    await initPlatformSecrets({ dir, database: 'postgres://rampart@postgres:5432/rampart' });
    const config = loadConfig('attestation', attestationEnvSchema, {
      NATS_URL: 'nats://nats:4222',
      DATABASE_URL_FILE: join(dir, 'database-url'),
      CA_KEY_ENCRYPTION_KEY_FILE: join(dir, 'ca-key-encryption-key'),
      PLATFORM_ADMIN_TOKEN_FILE: join(dir, 'platform-admin-token'),
      PLATFORM_CA_CERT_FILE: join(dir, 'pki', 'platform-ca.crt'),
      PLATFORM_CA_KEY_FILE: join(dir, 'pki', 'platform-ca.key'),
      MANUFACTURER_CA_FILE: join(dir, 'pki', 'manufacturer-ca.crt'),
      PUBLIC_BASE_URL: 'http://attestation:8083',
    });
    expect(config.PLATFORM_ADMIN_TOKEN).toBe(await readFile(join(dir, 'platform-admin-token'), 'utf8'));
  });
});

describe(databaseUrlWithPassword.name, () => {
  it('refuses a URL that already has a password, or no user', () => {
    expect(() => databaseUrlWithPassword('postgres://rampart:old@db/rampart', 'new')).toThrow(/leave the password out/);
    expect(() => databaseUrlWithPassword('postgres://db/rampart', 'new')).toThrow(/names no user/);
    expect(() => databaseUrlWithPassword('mysql://u@db/x', 'new')).toThrow(/a postgres URL/);
  });
});
