import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, queryDatabase, waitFor, type TestDatabase } from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTRY, ServiceProcess } from '../support/service-process.js';

const exec = promisify(execFile);
const SOFTHSM2_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const DEVICES = 8;

/**
 * What a private key looks like wherever it could have been written: PEM
 * (PKCS#8, SEC1, encrypted or not), and an unencrypted P-256 PKCS#8 or SEC1
 * key or Ed25519 PKCS#8 key (the TUF roles') in DER, as base64 (a JSON or
 * text column) and as hex (PostgreSQL's text form of bytea, which pg_dump
 * writes).
 */
const KEY_MARKERS = [
  'PRIVATE KEY-----',
  'MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEH', // PKCS#8 P-256, base64
  '308187020100301306072a8648ce3d020106082a8648ce3d030107', // PKCS#8 P-256, hex
  'MHcCAQEEI', // SEC1 P-256, base64
  '30770201010420', // SEC1 P-256, hex
  'MC4CAQAwBQYDK2VwBCIEI', // PKCS#8 Ed25519 (RFC 8410 §7), base64
  '302e020100300506032b657004220420', // PKCS#8 Ed25519, hex
];

/**
 * Files under the data folder that hold a private key on purpose, none of
 * them a platform CA's: the emulated device maker's firmware signing keys
 * and manufacturer CA (the demo fleet's, which a real device maker keeps),
 * the gateway's TLS server key and the development TLS CA that signed it,
 * named for that (it signs no tenant CA and no device: the chain below
 * verifies to the development root without it), and the development root's
 * key, encrypted, in the folder named for it. No platform-ca.key: with keys
 * in the token the platform CA's key is nowhere but there.
 */
const NOT_THE_PLATFORMS = new Set([
  'signing/platform.key',
  'signing/apps.key',
  'pki/manufacturer-ca.key',
  'pki/gateway.key',
  'pki/tls-ca.key',
  // The development TPM vendor's: it certifies emulated TPMs' EKs, and signs nothing of the platform's.
  'pki/tpm-vendor-ca.key',
  'DEVELOPMENT-ONLY-offline-root/root.key.pem',
  // The demo tenant's TUF root holders' keys, encrypted, in the folder named for them (the platform holds none).
  'DEVELOPMENT-ONLY-tuf-root-keys/demo/holder-1.key',
  'DEVELOPMENT-ONLY-tuf-root-keys/demo/holder-2.key',
  'DEVELOPMENT-ONLY-tuf-root-keys/demo/holder-3.key',
]);
/** Of those, the ones that are encrypted PKCS#8 (a passphrase under the data folder's secrets opens them). */
const ENCRYPTED = [...NOT_THE_PLATFORMS].filter((f) => f.startsWith('DEVELOPMENT-ONLY-'));

/**
 * `rampart up --keys pkcs11` as a user runs it (the built CLI, its own
 * process): a SoftHSM2 token and the development ceremonies under the data
 * folder (the platform CA's, the demo tenant's TUF root signed 2 of 3), an
 * emulated fleet attested through keys that stay in the token.
 * Then the search an auditor would make for private key bytes: the
 * database, the process's environment, its logs, every file under the data
 * folder but the token's own.
 */
/** The processes below `pid`, all generations (/proc/<pid>/task/<tid>/children, Linux 3.5+). */
async function childProcesses(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const direct = (await Promise.all(tasks.map((tid) => readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => ''))))
    .join(' ')
    .split(/\s+/)
    .filter((p) => p !== '')
    .map(Number);
  return [...direct, ...(await Promise.all(direct.map(childProcesses))).flat()];
}

describe('rampart up --keys pkcs11 (SoftHSM2, development ceremony)', () => {
  let dir: string;
  let dataDir: string;
  let db: TestDatabase;
  let cli: ServiceProcess;
  let environ = '';
  let childCount = -1;
  let pin = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-up-pkcs11-'));
    dataDir = join(dir, 'data');
    // The platform's own database on the machine's PostgreSQL, so every row can be read back below.
    db = await createTestDatabase();
    cli = ServiceProcess.start(
      'rampart-up',
      ENTRY.cli,
      {
        DEVICES: String(DEVICES),
        DURATION: '5s',
        RATE: '2',
        RAMPART_DATA_DIR: dataDir,
        DATABASE_URL: db.url,
        MQTT_PORT: '0',
        API_PORT: '0',
        TELEMETRY_PORT: '0',
        ATTESTATION_PORT: '0',
        FAILURES_PORT: '0',
        UPDATES_PORT: '0',
        UPDATES_DEVICE_PORT: '0',
        GATEWAY_HTTP_PORT: '0',
        // Everything the services log, so the search below has the most to look through.
        LOG_LEVEL: 'debug',
      },
      ['up', '--keys', 'pkcs11', '--fleet', '--report', join(dir, 'demo.json'), '--output', 'json'],
    );
    // Without --once it serves on after the report: read the running process's environment then.
    await waitFor(async () => (await readFile(join(dir, 'demo.json'), 'utf8').catch(() => '')) !== '', {
      timeoutMs: 180_000,
      intervalMs: 500,
      describe: () => `the fleet's report (stderr: ${cli.stderr.slice(-20).join('\n')})`,
    });
    // What /proc shows is the environment the process started with: every service runs inside it and is handed its
    // configuration in-process (paths to files, the PIN among them, never their contents), so that start-up
    // environment, the logs and the files are what the search below can honestly read. It also reads the
    // environment of any process the platform runs beside it (none are expected: softhsm2-util ran and ended).
    const children = await childProcesses(cli.child.pid!);
    environ = (await Promise.all([cli.child.pid!, ...children].map((pid) => readFile(`/proc/${pid}/environ`, 'latin1').catch(() => ''))))
      .join('\0')
      .replaceAll('\0', '\n');
    childCount = children.length;
    pin = (await readFile(join(dataDir, 'secrets', 'token-user.pin'), 'utf8')).trim();
  }, 240_000);

  afterAll(async () => {
    if (cli !== undefined && cli.child.exitCode === null) {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('attests every device with certificates that chain through the token-held CAs to the development root', async () => {
    const report = JSON.parse(await readFile(join(dir, 'demo.json'), 'utf8')) as Record<string, unknown>;
    expect(report).toMatchObject({
      devices: DEVICES,
      devicesConnected: DEVICES,
      devicesAttested: DEVICES,
      attestationFailures: 0,
      ok: true,
    });
    expect(cli.stderr.join('\n')).toMatch(/CA keys {9}in the SoftHSM2 token "rampart-dev"/);
    const { stdout } = await exec('openssl', [
      'verify',
      '-x509_strict',
      '-purpose',
      'sslclient',
      '-CAfile',
      join(dir, 'platform-root.pem'),
      '-untrusted',
      join(dir, 'ca-chain.pem'),
      join(dir, 'device-certificate.pem'),
    ]);
    expect(stdout.trim()).toBe(`${join(dir, 'device-certificate.pem')}: OK`);
    expect(await readFile(join(dir, 'platform-root.pem'), 'utf8')).toBe(await readFile(join(dataDir, 'platform-ca', 'root.pem'), 'utf8'));
  });

  it('keeps the issuing CA, tenant CA and online TUF keys in the token: sensitive and never extractable, read back by pkcs11-tool', async () => {
    const { stdout } = await exec(
      'pkcs11-tool',
      ['--module', SOFTHSM2_MODULE, '--token-label', 'rampart-dev', '--login', '--pin', pin, '--list-objects', '--type', 'privkey'],
      { env: { ...process.env, SOFTHSM2_CONF: join(dataDir, 'softhsm', 'softhsm2.conf') }, encoding: 'utf8' },
    );
    const keys = stdout.split(/\n(?=Private Key Object)/).filter((b) => b.startsWith('Private Key Object'));
    const labels = keys.map((k) => /label:\s+(\S+)/.exec(k)?.[1]);
    expect(labels).toContain('rampart/platform/issuing-ca');
    expect(labels.some((l) => l?.startsWith('rampart/demo/ca-'))).toBe(true);
    for (const role of ['timestamp', 'snapshot', 'targets', 'director']) expect(labels).toContain(`rampart/demo/tuf-${role}`);
    for (const key of keys) expect(key).toMatch(/Access:\s+sensitive, always sensitive, never extractable, local/);
    // The tenant CA rows name their key in the token and hold no key bytes.
    const rows = await queryDatabase<{ key_label: string | null; sealed: boolean }>(
      db.url,
      `SELECT key_label, encrypted_key IS NOT NULL AS sealed FROM attestation.tenant_cas`,
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row).toMatchObject({ key_label: expect.stringMatching(/^rampart\/demo\/ca-/), sealed: false });
    // The TUF roles' rows name their key in the token; nothing is sealed.
    const tuf = await queryDatabase<{ role: string; provider: string; label: string | null; legacy: boolean }>(
      db.url,
      `SELECT role, provider, label, legacy_sealed IS NOT NULL AS legacy FROM updates.signing_keys WHERE retired_at IS NULL`,
    );
    expect(tuf.map((r) => r.role).sort()).toEqual(['director', 'snapshot', 'targets', 'timestamp']);
    for (const row of tuf) expect(row).toMatchObject({ provider: 'pkcs11', label: `rampart/demo/tuf-${row.role}`, legacy: false });
    expect(await queryDatabase(db.url, `SELECT label FROM updates.sealed_keys`)).toEqual([]);
    // The tenant's root was signed offline (2 of 3 development holders) and imported.
    const root = JSON.parse(await readFile(join(dataDir, 'DEVELOPMENT-ONLY-tuf-root-keys', 'demo', '1.root.json'), 'utf8')) as {
      signed: { roles: Record<string, { keyids: string[]; threshold: number }> };
      signatures: unknown[];
    };
    expect(root.signed.roles['root']).toMatchObject({ threshold: 2 });
    expect(root.signed.roles['root']!.keyids).toHaveLength(3);
    expect(root.signatures).toHaveLength(2);
  });

  it("writes no private key, and not the PIN, to the database, the start-up environment (its own and any child process's) or the logs", async () => {
    expect(childCount).toBe(0);
    const { stdout: dump } = await exec('pg_dump', ['--data-only', db.url], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    expect(dump).toContain('COPY attestation.tenant_cas');
    expect(dump).toContain('COPY updates.signing_keys');
    const logs = `${cli.lines.map((l) => JSON.stringify(l)).join('\n')}\n${cli.stderr.join('\n')}`;
    expect(cli.lines.length).toBeGreaterThan(10);
    for (const [where, text] of Object.entries({ 'the database': dump, 'the environment': environ, 'the logs': logs })) {
      for (const marker of KEY_MARKERS) expect(text.includes(marker), `${where}: ${marker}`).toBe(false);
      expect(text.includes(pin), `${where}: the token's PIN`).toBe(false);
    }
  });

  it('leaves no private key in the clear under the data folder but the token, beyond the keys that are not the platform CA’s', async () => {
    const files = (await readdir(dataDir, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(dataDir.length + 1))
      .filter((f) => !f.startsWith('softhsm/'));
    expect(files).toContain('platform-ca/issuing.pem');
    // The development CA beside the token signs TLS only, and is named so: no file is called the platform CA's key.
    expect(files).toContain('pki/tls-ca.crt');
    expect(files.filter((f) => f.includes('platform-ca.key'))).toEqual([]);
    const holding: string[] = [];
    for (const file of files) {
      const text = await readFile(join(dataDir, file), 'latin1');
      if (KEY_MARKERS.some((m) => text.includes(m))) holding.push(file);
    }
    // Exactly those: the search finds each of them (so it would find another), and nothing else.
    expect(holding.sort()).toEqual([...NOT_THE_PLATFORMS].sort());
    for (const file of ENCRYPTED)
      expect(await readFile(join(dataDir, file), 'utf8'), file).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  });
});
