import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadOrCreateDevelopmentPki, readIfPresent } from '@rampart/trust';

/**
 * The secrets of a single-host install (docker/compose.yaml), one file each,
 * as the services read them through `<KEY>_FILE`. Key-encryption keys are the
 * 32 random bytes the services require, base64; tokens and passwords are
 * URL-safe so a password can sit in a connection URL as it is.
 */
export const PLATFORM_SECRET_FILES = {
  'ca-key-encryption-key': () => randomBytes(32).toString('base64'),
  'updates-key-encryption-key': () => randomBytes(32).toString('base64'),
  'platform-admin-token': () => randomBytes(36).toString('base64url'),
  'postgres-password': () => randomBytes(24).toString('base64url'),
  'grafana-admin-password': () => randomBytes(18).toString('base64url'),
} as const;

/** Readable by the owner and its group (a database container reads its password through the group), written once. */
const SECRET_FILE_MODE = 0o440;
const SECRET_DIR_MODE = 0o750;

/**
 * The emulated device maker's firmware signing keys (P-256, PKCS#8 PEM), as the chart's firmware-signing Secret:
 * devices are fused to trust them, so an operator signs the images it rolls out to the demo fleet with them.
 */
export const FIRMWARE_SIGNING_FILES = ['platform.key', 'apps.key'] as const;

export interface SecretsInitOptions {
  readonly dir: string;
  /** A PostgreSQL URL without a password (`postgres://rampart@postgres:5432/rampart`): `database-url` is it with the generated password. */
  readonly database?: string | undefined;
  /** Where the firmware signing keys go: a folder of their own, so that only the fleet mounts them. */
  readonly firmwareSigning?: string | undefined;
}

export interface SecretsInitResult {
  readonly created: readonly string[];
  readonly kept: readonly string[];
}

/**
 * Creates each secret that is missing and keeps each that exists: data
 * sealed with the key-encryption keys, and devices chained to the PKI, must
 * outlive a restart, so nothing here is ever generated twice.
 */
export async function initPlatformSecrets(options: SecretsInitOptions): Promise<SecretsInitResult> {
  await mkdir(options.dir, { recursive: true, mode: SECRET_DIR_MODE });
  const created: string[] = [];
  const kept: string[] = [];
  /** `name` is what the summary lists; the file is `<dir>/<basename>`. */
  const keepOrCreate = async (name: string, generate: () => Promise<string> | string, path = join(options.dir, name)): Promise<string> => {
    const existing = await readIfPresent(path);
    if (existing !== undefined && existing !== '') {
      kept.push(name);
      return existing;
    }
    const value = await generate();
    // 'wx': two inits racing on a fresh volume cannot both write; an empty file left by a crash is replaced.
    await writeFile(path, value, { mode: SECRET_FILE_MODE, flag: existing === undefined ? 'wx' : 'w' });
    await chmod(path, SECRET_FILE_MODE);
    created.push(name);
    return value;
  };
  for (const [name, generate] of Object.entries(PLATFORM_SECRET_FILES)) await keepOrCreate(name, generate);
  if (options.database !== undefined) {
    const base = options.database;
    await keepOrCreate('database-url', async () =>
      databaseUrlWithPassword(base, await readFile(join(options.dir, 'postgres-password'), 'utf8')),
    );
  }
  if (options.firmwareSigning !== undefined) {
    await mkdir(options.firmwareSigning, { recursive: true, mode: SECRET_DIR_MODE });
    for (const name of FIRMWARE_SIGNING_FILES) {
      await keepOrCreate(
        `firmware-signing ${name}`,
        () =>
          generateKeyPairSync('ec', {
            namedCurve: 'P-256',
            publicKeyEncoding: { type: 'spki', format: 'pem' },
            privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
          }).privateKey,
        join(options.firmwareSigning, name),
      );
    }
  }
  const pkiDir = join(options.dir, 'pki');
  const pkiBefore = await readIfPresent(join(pkiDir, 'platform-ca.crt'));
  await loadOrCreateDevelopmentPki(pkiDir);
  (pkiBefore === undefined ? created : kept).push('pki');
  return { created, kept };
}

/** The URL with the password set; a URL that already carries one is refused, so a password is never silently replaced. */
export function databaseUrlWithPassword(base: string, password: string): string {
  const url = new URL(base);
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new Error(`--database: a postgres URL, not ${url.protocol}`);
  if (url.username === '') throw new Error('--database: the URL names no user (postgres://rampart@postgres:5432/rampart)');
  if (url.password !== '') throw new Error('--database: leave the password out; it is generated');
  url.password = password;
  return url.toString();
}
