import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { containerTierSkipped } from './support/docker.js';

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const IMAGE = process.env['IMAGE'] ?? 'rampart:dev';
const FILES = ['docker/compose.yaml', 'docker/compose.pkcs11.yaml'].flatMap((f) => ['-f', join(ROOT, f)]);

interface ComposeService {
  environment?: Record<string, string | null>;
  volumes?: Array<string | { source: string; target: string; read_only?: boolean }>;
  depends_on?: Record<string, { condition: string }>;
  user?: string;
  read_only?: boolean;
  cap_drop?: string[];
}

/** A mount as `volume:target[:ro]`, whichever form docker-compose config prints. */
function mounts(service: ComposeService): string[] {
  return (service.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}${v.read_only === true ? ':ro' : ''}`));
}

/**
 * docker/compose.pkcs11.yaml over docker/compose.yaml (docker-compose 1.29):
 * the merged configuration gives attestation and updates the token and the
 * three-tier platform CA and keeps the development root away from every
 * service; its one-shot `keys-init` runs for real in the image, twice.
 */
describe.skipIf(await containerTierSkipped())('docker/compose.pkcs11.yaml (SoftHSM2 development keys)', () => {
  const project = `rampart-pkcs11-${process.pid}`;
  let dir: string;
  const compose = async (...args: string[]) =>
    (await exec('docker-compose', ['-p', project, ...FILES, ...args], { env: { ...process.env, RAMPART_IMAGE: IMAGE }, encoding: 'utf8' }))
      .stdout;
  /** A file of a volume, read by a throwaway container as the services' user. */
  const readVolume = async (volume: string, path: string): Promise<string> =>
    (
      await exec(
        'docker',
        [
          'run',
          '--rm',
          '--network',
          'none',
          '--user',
          '1000:1000',
          '-v',
          `${project}_${volume}:/v:ro`,
          '--entrypoint',
          'cat',
          IMAGE,
          `/v/${path}`,
        ],
        { encoding: 'utf8' },
      )
    ).stdout;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-compose-pkcs11-'));
  });
  afterAll(async () => {
    await compose('down', '--volumes', '--remove-orphans').catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('gives attestation and updates the token and the three tiers, the gateway the root, and no service the development root', async () => {
    const config = parse(await compose('config')) as { services: Record<string, ComposeService> };
    const { attestation, updates, gateway } = config.services as Record<'attestation' | 'updates' | 'gateway', ComposeService>;
    const token = {
      KEYS_PROVIDER: 'pkcs11',
      PKCS11_MODULE: '/usr/lib/softhsm/libsofthsm2.so',
      PKCS11_TOKEN_LABEL: 'rampart-dev',
      PKCS11_PIN_FILE: '/var/lib/rampart/keys/secrets/token-user.pin',
      SOFTHSM2_CONF: '/var/lib/rampart/keys/softhsm/softhsm2.conf',
    };
    expect(attestation.environment).toMatchObject({
      ...token,
      PLATFORM_CA_CERT_FILE: '/var/lib/rampart/platform-ca/issuing.pem',
      PLATFORM_ROOT_CERT_FILE: '/var/lib/rampart/platform-ca/root.pem',
      PLATFORM_ROOT_CRL_FILE: '/var/lib/rampart/platform-ca/root.crl',
    });
    // Unset: the service's config takes an empty value for none, and refuses a CA key file with pkcs11.
    expect(attestation.environment?.['PLATFORM_CA_KEY_FILE'] ?? '').toBe('');
    expect(updates.environment).toMatchObject({ ...token, PLATFORM_CA_FILE: '/var/lib/rampart/platform-ca/root.pem' });
    // No key-encryption key for TUF keys that are in the token (empty: none, as the services read it).
    expect(updates.environment?.['UPDATES_KEY_ENCRYPTION_KEY_FILE']).toBe('');
    expect(gateway.environment).toMatchObject({ PLATFORM_CA_FILE: '/var/lib/rampart/platform-ca/root.pem' });
    expect(gateway.environment?.['PKCS11_PIN_FILE']).toBeUndefined();
    for (const [name, service] of Object.entries({ attestation, updates, gateway })) {
      expect(service.depends_on?.['keys-init'], name).toEqual({ condition: 'service_completed_successfully' });
    }
    for (const [name, service] of Object.entries(config.services)) {
      const volumes = mounts(service).map((m) => m.split(':')[0]);
      expect(volumes.includes('offline-root'), name).toBe(name === 'keys-init');
      // The token's files and its PIN: the set-up and the two services that sign, never the internet-facing gateway.
      expect(volumes.includes('keys'), name).toBe(['keys-init', 'attestation', 'updates'].includes(name));
      expect(volumes.includes('platform-ca'), name).toBe(['keys-init', 'attestation', 'updates', 'gateway'].includes(name));
    }
    expect(mounts(gateway)).toContain('platform-ca:/var/lib/rampart/platform-ca:ro');
    const init = config.services['keys-init']!;
    expect({ user: init.user, read_only: init.read_only, cap_drop: init.cap_drop }).toEqual({
      user: '1000:1000',
      read_only: true,
      cap_drop: ['ALL'],
    });
  });

  it('keys-init makes the token and signs the issuing CA the first time, and keeps both the next', async () => {
    const first = await compose('run', '--rm', '--no-deps', 'keys-init');
    expect(first).toMatch(/development token "rampart-dev" made in .*; issuing CA signed/);
    const files = { root: 'root.pem', issuing: 'issuing.pem', crl: 'root.crl' };
    for (const [name, path] of Object.entries(files)) await writeFile(join(dir, name), await readVolume('platform-ca', path));
    const verified = await exec(
      'openssl',
      ['verify', '-x509_strict', '-crl_check', '-CAfile', join(dir, 'root'), '-CRLfile', join(dir, 'crl'), join(dir, 'issuing')],
      { encoding: 'utf8' },
    );
    expect(verified.stdout.trim()).toBe(`${join(dir, 'issuing')}: OK`);
    // The development root's key is encrypted, in the volume only keys-init mounts.
    expect(await readVolume('offline-root', 'DEVELOPMENT-ONLY-offline-root/root.key.pem')).toMatch(
      /^-----BEGIN ENCRYPTED PRIVATE KEY-----/,
    );
    const second = await compose('run', '--rm', '--no-deps', 'keys-init');
    expect(second).toMatch(/development token "rampart-dev" kept in .*; issuing CA kept/);
    expect(await readVolume('platform-ca', files.issuing)).toBe(
      await exec('cat', [join(dir, 'issuing')], { encoding: 'utf8' }).then((r) => r.stdout),
    );
  }, 120_000);

  it('lets the gateway, as Compose runs it, read the root and its CRL but no token file and no PIN; attestation reads the PIN', async () => {
    // After the test before: keys-init has run. Run it again here, so this test stands on its own (it keeps what it finds).
    await compose('run', '--rm', '--no-deps', 'keys-init');
    /** Runs `command` in a one-off container of `service` (its user, volumes, read-only root): exit status and output. */
    const inService = async (service: string, command: string[]) =>
      compose('run', '--rm', '--no-deps', '-T', '--entrypoint', command[0]!, service, ...command.slice(1)).then(
        (stdout) => ({ ok: true, stdout }),
        (error: { stderr?: string }) => ({ ok: false, stdout: error.stderr ?? '' }),
      );
    const gatewayRoot = await inService('gateway', [
      'cat',
      '/var/lib/rampart/platform-ca/root.pem',
      '/var/lib/rampart/platform-ca/root.crl',
    ]);
    expect(gatewayRoot.ok).toBe(true);
    expect(gatewayRoot.stdout).toContain('-----BEGIN CERTIFICATE-----');
    for (const secret of ['/var/lib/rampart/keys/secrets/token-user.pin', '/var/lib/rampart/keys/softhsm/tokens']) {
      expect((await inService('gateway', ['ls', secret])).ok, secret).toBe(false);
    }
    // The same look from attestation finds them: the gateway's refusal is its mounts, not a wrong path.
    expect((await inService('attestation', ['cat', '/var/lib/rampart/keys/secrets/token-user.pin'])).stdout.trim()).toMatch(
      /^[A-Za-z0-9_-]{24}$/,
    );
    expect((await inService('attestation', ['ls', '/var/lib/rampart/keys/softhsm/tokens'])).ok).toBe(true);
    // The token's security-officer PIN is kept nowhere.
    expect((await inService('attestation', ['ls', '/var/lib/rampart/keys/secrets'])).stdout.trim().split('\n')).toEqual(['token-user.pin']);
  }, 120_000);
});
