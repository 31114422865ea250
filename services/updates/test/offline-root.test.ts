import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceUpdater, SecureOs, UpdateClient, manufactureDevice, provisionUpdateRoot, realEnvironment } from '@rampart/emulator';
import {
  SOFTHSM2_MODULE,
  createSoftHsmToken,
  createTestTenantIssuer,
  queryDatabase,
  readTokenKeyAttributes,
  waitFor,
  type SoftHsmToken,
} from '@rampart/testing';
import {
  ImageSigner,
  MetadataFile,
  MetadataRefusedError,
  ONLINE_ROLES,
  TufSigningKey,
  UpdateMetadataClient,
  ceremonyFileText,
  combineSignatures,
  encodeImage,
  makeOfflineRoot,
  parseOnlineGrants,
  parseRootMetadata,
  signOfflineRoot,
  type OnlineGrants,
  type RootMetadata,
} from '@rampart/trust';
import { BaseFetcher, Updater } from 'tuf-js';
// tuf-js tells "no such file" from other failures by this error (a missing N+1.root.json ends the root walk).
import { DownloadHTTPError } from 'tuf-js/dist/error.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpdatesEnvironment, type UpdatesEnvironment } from './updates-environment.js';

const DAY_MS = 86_400_000;
const METADATA_BASE = 'https://updates.invalid/v1/metadata';
const TOKEN_LABEL = 'rampart-updates';
const HARDWARE = 'rampart-mt3620';
const imageSigner = ImageSigner.create();
const osImage = (version: string) =>
  encodeImage(imageSigner.sign({ component: 'os', version, securityVersion: 1, hardware: HARDWARE }, randomBytes(64 * 1024)));

/** tuf-js fetching over the device's own mutually authenticated channel (its operational certificate). */
class DeviceChannelFetcher extends BaseFetcher {
  constructor(private readonly client: UpdateClient) {
    super();
  }

  async fetch(url: string): Promise<ReadableStream<Uint8Array<ArrayBuffer>>> {
    const name = url.slice(METADATA_BASE.length + 1);
    const bytes = await this.client.metadata(name, 4 * 1024 * 1024);
    if (bytes === undefined) throw new DownloadHTTPError(`${name}: not found`, 404);
    return new Blob([new Uint8Array(bytes)]).stream();
  }
}

/** A holder's signature as on an offline machine: the signed copy goes through its file text and back. */
const signedCopy = (root: RootMetadata, key: TufSigningKey, previous?: RootMetadata) => ({
  file: `root.signed-by-${key.keyId.slice(0, 8)}.json`,
  metadata: parseRootMetadata(ceremonyFileText(signOfflineRoot(root, key, new Date(), previous))),
});

/** What is posted to the platform: the merged root's JSON. */
const asBody = (root: RootMetadata): unknown => JSON.parse(ceremonyFileText(root));

/**
 * KEYS_PROVIDER=pkcs11 with SoftHSM2: the online TUF roles' keys are made in
 * the token and every signature is the token's; the platform holds no root
 * key, so a tenant's repository waits for a root signed 2-of-3 offline. The
 * imported root and a §5.3.4 rotation are followed by an emulated device
 * and by tuf-js; a root one key signed is refused and nothing is stored. A
 * token pulled mid-run stops signing by name, and signing resumes when it
 * is back.
 */
describe('offline TUF roots, online keys in a PKCS#11 token', () => {
  let dir: string;
  let token: SoftHsmToken;
  let env: UpdatesEnvironment;
  let online: OnlineGrants;
  let root1: RootMetadata;
  let root2: RootMetadata;
  const firstHolders = [TufSigningKey.generate(), TufSigningKey.generate(), TufSigningKey.generate()];
  const nextHolders = [TufSigningKey.generate(), TufSigningKey.generate(), TufSigningKey.generate()];
  let device: Awaited<ReturnType<typeof manufactureDevice>>;
  let deviceClient: UpdateClient;
  let pinnedRoot = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-tuf-hsm-'));
    token = await createSoftHsmToken(join(dir, 'hsm'), TOKEN_LABEL, '135790');
    // The module is loaded in this process (the service runs here): SoftHSM2 reads its configuration from here.
    Object.assign(process.env, token.env);
    env = await startUpdatesEnvironment('tufhsm', {
      KEYS_PROVIDER: 'pkcs11',
      PKCS11_MODULE: SOFTHSM2_MODULE,
      PKCS11_TOKEN_LABEL: TOKEN_LABEL,
      PKCS11_PIN_FILE: token.pinFile,
      // The floor every imported root must meet, the first included.
      ROOT_KEYS: '3',
      ROOT_THRESHOLD: '2',
    });
  }, 60_000);

  afterAll(async () => {
    await env?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const acmeRows = (sql: string) => queryDatabase(env.db.url, sql, ['acme']);
  const storedState = async () => ({
    metadata: await acmeRows(`SELECT role, version, body FROM updates.metadata WHERE tenant_id = $1 ORDER BY role, version`),
    keys: await acmeRows(`SELECT key_id, role, label FROM updates.signing_keys WHERE tenant_id = $1 ORDER BY key_id`),
  });
  const readiness = async () => {
    const answer = await fetch(`${env.updates.url}/readyz`);
    return { status: answer.status, body: (await answer.json()) as { checks: Record<string, { ok: boolean; error?: string }> } };
  };

  it('makes the online role keys in the token, sensitive and never extractable; PostgreSQL holds only their public halves', async () => {
    const answer = await env.api(env.tokens.acme, 'GET', '/v1/tuf/online-keys');
    expect(answer.status).toBe(200);
    online = parseOnlineGrants(answer.body);
    const keytypes = new Set(Object.values(online.keys).map((k) => `${k.keytype}/${k.scheme}`));
    // Ed25519 where the token has CKM_EDDSA (SoftHSM2 built with OpenSSL ≥ 1.1.1 has), else ECDSA P-256.
    expect([['ed25519/ed25519'], ['ecdsa/ecdsa-sha2-nistp256']]).toContainEqual([...keytypes]);
    for (const role of ONLINE_ROLES) {
      expect(online.roles[role]).toMatchObject({ threshold: 1, keyids: [expect.stringMatching(/^[0-9a-f]{64}$/)] });
      expect(await readTokenKeyAttributes(token, `rampart/acme/tuf-${role}`)).toMatchObject({
        CKA_TOKEN: true,
        CKA_PRIVATE: true,
        CKA_SENSITIVE: true,
        CKA_EXTRACTABLE: false,
        CKA_NEVER_EXTRACTABLE: true,
        CKA_VALUE: 'CKR_ATTRIBUTE_SENSITIVE',
      });
    }
    // No root key anywhere: not in the token, not in the tables.
    expect(await readTokenKeyAttributes(token, 'rampart/acme/tuf-root')).toBeNull();
    const rows = await acmeRows(`SELECT role, provider, legacy_sealed, label FROM updates.signing_keys WHERE tenant_id = $1 ORDER BY role`);
    expect(rows).toEqual(
      [...ONLINE_ROLES].sort().map((role) => ({ role, provider: 'pkcs11', legacy_sealed: null, label: `rampart/acme/tuf-${role}` })),
    );
    expect(await queryDatabase(env.db.url, `SELECT label FROM updates.sealed_keys`)).toEqual([]);
    expect(await acmeRows(`SELECT role FROM updates.metadata WHERE tenant_id = $1`)).toEqual([]);
  });

  it('refuses to release to a tenant or serve its metadata before its root is imported, and says what to do', async () => {
    const upload = await env.api(env.tokens.acme, 'POST', '/v1/images', osImage('1.0.0'));
    expect(upload.status).toBe(201);
    const release = await env.api(env.tokens.acme, 'POST', `/v1/images/${upload.body.sha256}/release`);
    expect(release).toMatchObject({ status: 409, body: { code: 'TUF_ROOT_MISSING' } });
    expect(release.body.message).toMatch(/rampart tuf online-keys.*rampart ceremony tuf-root.*rampart tuf root import/);
    expect((await env.api(env.tokens.acme, 'GET', `/v1/images/${upload.body.sha256}`)).body.status).toBe('uploaded');
    expect(await env.api(env.tokens.acme, 'GET', '/v1/metadata/1.root.json')).toMatchObject({
      status: 409,
      body: { code: 'TUF_ROOT_MISSING' },
    });
  });

  it('refuses a root one key of three signed, a 1-of-1 root, one naming other online keys, or from a Reader; stores nothing, logs and counts', async () => {
    const before = await storedState();
    const unsigned = makeOfflineRoot({
      version: 1,
      expires: new Date(Date.now() + 365 * DAY_MS),
      rootKeys: firstHolders.map((h) => h.key),
      threshold: 2,
      online,
    });
    const oneOfThree = signedCopy(unsigned, firstHolders[0]!).metadata;
    const refused = await env.api(env.tokens.acme, 'POST', '/v1/tuf/root', asBody(oneOfThree));
    expect(refused).toMatchObject({ status: 400, body: { code: 'ROOT_REJECTED' } });
    expect(refused.body.message).toMatch(/too-few-signatures/);

    // Signed as it asks, but by one key of one: below ROOT_THRESHOLD, and every rotation after it would be as weak.
    const lone = makeOfflineRoot({
      version: 1,
      expires: new Date(Date.now() + 365 * DAY_MS),
      rootKeys: [firstHolders[0]!.key],
      threshold: 1,
      online,
    });
    const weak = await env.api(env.tokens.acme, 'POST', '/v1/tuf/root', asBody(signedCopy(lone, firstHolders[0]!).metadata));
    expect(weak).toMatchObject({ status: 400, body: { code: 'ROOT_REJECTED' } });
    expect(weak.body.message).toMatch(/weak-threshold.*1-of-1/);

    const rogueTargets = TufSigningKey.generate().key;
    const elsewhere = makeOfflineRoot({
      version: 1,
      expires: new Date(Date.now() + 365 * DAY_MS),
      rootKeys: firstHolders.map((h) => h.key),
      threshold: 2,
      online: {
        keys: { ...online.keys, [rogueTargets.keyID]: rogueTargets.toJSON() as never },
        roles: { ...online.roles, targets: { keyids: [rogueTargets.keyID], threshold: 1 } },
      },
    });
    const wrongKeys = combineSignatures([signedCopy(elsewhere, firstHolders[0]!), signedCopy(elsewhere, firstHolders[1]!)]);
    const alsoRefused = await env.api(env.tokens.acme, 'POST', '/v1/tuf/root', asBody(wrongKeys));
    expect(alsoRefused).toMatchObject({ status: 400, body: { code: 'ROOT_REJECTED' } });
    expect(alsoRefused.body.message).toMatch(/wrong-online-keys/);

    // A well-signed root, but from a Reader: only an Administrator imports roots.
    const good = combineSignatures([signedCopy(unsigned, firstHolders[0]!), signedCopy(unsigned, firstHolders[1]!)]);
    expect((await env.api(env.tokens.acmeReader, 'POST', '/v1/tuf/root', asBody(good))).status).toBe(403);

    expect(await storedState()).toEqual(before);
    const metrics = await (await fetch(`${env.updates.url}/metrics`)).text();
    expect(metrics).toMatch(/rampart_updates_root_imports_refused_total\{[^}]*reason="too-few-signatures"[^}]*\} 1/);
    expect(metrics).toMatch(/rampart_updates_root_imports_refused_total\{[^}]*reason="wrong-online-keys"[^}]*\} 1/);
    expect(metrics).toMatch(/rampart_updates_root_imports_refused_total\{[^}]*reason="weak-threshold"[^}]*\} 1/);
    root1 = good;
  });

  it('imports root 1 signed 2-of-3 offline; releases then sign through the token; a device claimed now pins that root', async () => {
    const imported = await env.api(env.tokens.acme, 'POST', '/v1/tuf/root', asBody(root1));
    expect(imported).toMatchObject({ status: 200, body: { version: 1, roles: { root: { threshold: 2 } } } });
    expect(imported.body.signatures).toHaveLength(2);

    const [image] = (await env.api(env.tokens.acme, 'GET', '/v1/images')).body as Array<{ sha256: string }>;
    expect((await env.api(env.tokens.acme, 'POST', `/v1/images/${image!.sha256}/release`)).status).toBe(200);
    const targets = await env.api(env.tokens.acme, 'GET', '/v1/metadata/targets.json');
    expect(Object.keys((targets.body as { signed: { targets: object } }).signed.targets)).toEqual([`images/${image!.sha256}`]);

    device = await manufactureDevice(env.pki.manufacturerCa);
    pinnedRoot = await env.claim(env.tokens.acme, device.security.deviceId);
    expect(parseRootMetadata(pinnedRoot).signed.version).toBe(1);
    const certificate = (await createTestTenantIssuer(env.pki.platformCa, 'acme'))(device);
    deviceClient = new UpdateClient({ host: '127.0.0.1', port: env.updates.devicePort }, () =>
      device.security.tlsContext(`${certificate.certificatePem}${certificate.chainPem}`, env.pki.platformCa.certificatePem),
    );
  });

  it('imports root 2 signed 2-of-3 by the old keys and 2-of-3 by the new (§5.3.4), refusing it signed by the new alone; a device and tuf-js follow it', async () => {
    const unsigned = makeOfflineRoot({
      version: 2,
      expires: new Date(Date.now() + 365 * DAY_MS),
      rootKeys: nextHolders.map((h) => h.key),
      threshold: 2,
      online: parseOnlineGrants(JSON.parse(pinnedRoot)),
    });
    const newOnly = combineSignatures([signedCopy(unsigned, nextHolders[0]!), signedCopy(unsigned, nextHolders[2]!)]);
    const before = await storedState();
    const refused = await env.api(env.tokens.acme, 'POST', '/v1/tuf/root', asBody(newOnly));
    expect(refused).toMatchObject({ status: 400, body: { code: 'ROOT_REJECTED' } });
    expect(refused.body.message).toMatch(/too-few-signatures.*version 1's root keys/);
    expect(await storedState()).toEqual(before);

    root2 = combineSignatures(
      [
        signedCopy(unsigned, nextHolders[0]!, root1),
        signedCopy(unsigned, nextHolders[1]!, root1),
        signedCopy(unsigned, firstHolders[1]!, root1),
        signedCopy(unsigned, firstHolders[2]!, root1),
      ],
      root1,
    );
    expect((await env.api(env.tokens.acme, 'POST', '/v1/tuf/root', asBody(root2))).body).toMatchObject({ version: 2 });
    // The same root again (a retry after a lost answer) answers as before and changes nothing; root 1 again is refused.
    const imported = await storedState();
    expect(await env.api(env.tokens.acme, 'POST', '/v1/tuf/root', asBody(root2))).toMatchObject({ status: 200, body: { version: 2 } });
    expect((await env.api(env.tokens.acme, 'POST', '/v1/tuf/root', asBody(root1))).body.message).toMatch(/not-the-next-version/);
    expect(await storedState()).toEqual(imported);

    // The emulated device, holding root 1 from its claim, steps to root 2 by the signed chain.
    const os = new SecureOs(device.security, realEnvironment, {
      telemetry: () => undefined,
      failure: () => undefined,
      heartbeat: () => undefined,
    });
    await os.powerOn();
    try {
      expect(provisionUpdateRoot(device.security.store, device.security.deviceId, pinnedRoot)).toBe(true);
      const updater = new DeviceUpdater(device.security.deviceId, os, deviceClient, device.security.store);
      expect(await updater.check()).toMatchObject({ result: 'up-to-date' });
      // The device's kept trust (the emulator's 'update-metadata' entry): root version 2 now.
      const trusted = JSON.parse(device.security.store.read('update-metadata')!.toString()) as { root: string };
      expect(parseRootMetadata(trusted.root).signed.version).toBe(2);

      // A root 3 one new key signed: a device refuses it (and the platform would, as above).
      const oneKey = signedCopy(
        makeOfflineRoot({
          version: 3,
          expires: new Date(Date.now() + DAY_MS),
          rootKeys: nextHolders.map((h) => h.key),
          threshold: 2,
          online,
        }),
        nextHolders[0]!,
        root2,
      ).metadata;
      const client = new UpdateMetadataClient({ root: trusted.root }, device.security.deviceId);
      const refusal = await client
        .refresh(async (name, max) =>
          name === MetadataFile.root(3) ? Buffer.from(ceremonyFileText(oneKey)) : deviceClient.metadata(name, max),
        )
        .catch((e: unknown) => e);
      expect(refusal).toBeInstanceOf(MetadataRefusedError);
      expect(refusal).toMatchObject({ reason: 'too-few-signatures', file: MetadataFile.root(3) });
    } finally {
      os.shutdown();
    }

    // tuf-js, an independent client, from the same pinned root 1.
    const metadataDir = join(dir, 'tuf-js');
    await mkdir(metadataDir, { recursive: true });
    await writeFile(join(metadataDir, 'root.json'), pinnedRoot);
    const updater = new Updater({ metadataDir, metadataBaseUrl: METADATA_BASE, fetcher: new DeviceChannelFetcher(deviceClient) });
    await updater.refresh();
    expect(parseRootMetadata(await readFile(join(metadataDir, 'root.json'), 'utf8')).signed.version).toBe(2);
    const [image] = (await env.api(env.tokens.acme, 'GET', '/v1/images')).body as Array<{ sha256: string }>;
    expect(await updater.getTargetInfo(`images/${image!.sha256}`)).toBeDefined();
  });

  it('with the token pulled: releasing and re-signing fail by name, readiness is false, nothing is signed; back: signing resumes', async () => {
    const upload = await env.api(env.tokens.acme, 'POST', '/v1/images', osImage('1.1.0'));
    expect(upload.status).toBe(201);
    const timestampBefore = (await env.api(env.tokens.acme, 'GET', '/v1/metadata/timestamp.json')).body.signed.version as number;
    expect((await readiness()).status).toBe(200);

    const [tokenFolder] = await readdir(token.tokenDir);
    const pulled = join(dir, 'pulled');
    await rename(join(token.tokenDir, tokenFolder!), pulled);
    try {
      const release = await env.api(env.tokens.acme, 'POST', `/v1/images/${upload.body.sha256}/release`);
      // Fixed words on the wire: which key, which token, the module and PIN file are the platform's to know (its log).
      expect(release).toMatchObject({ status: 503, body: { code: 'UNAVAILABLE', message: 'signing key unavailable; retry later' } });
      // A device first asking for its director targets (signed for it now) is told the same, and nothing more.
      const newcomer = await manufactureDevice(env.pki.manufacturerCa);
      await env.claim(env.tokens.acme, newcomer.security.deviceId);
      const newcomerCertificate = (await createTestTenantIssuer(env.pki.platformCa, 'acme'))(newcomer);
      const newcomerClient = new UpdateClient({ host: '127.0.0.1', port: env.updates.devicePort }, () =>
        newcomer.security.tlsContext(
          `${newcomerCertificate.certificatePem}${newcomerCertificate.chainPem}`,
          env.pki.platformCa.certificatePem,
        ),
      );
      const deviceRefusal = (await newcomerClient
        .metadata('director.json', 65_536)
        .catch((e: unknown) => e)
        .finally(() => newcomerClient.close())) as Error;
      expect(deviceRefusal.message).toMatch(/HTTP 503 .*signing key unavailable; retry later/);
      for (const internal of [token.pinFile, SOFTHSM2_MODULE, TOKEN_LABEL, 'rampart/acme', 'TokenUnavailableError', 'TokenLoginError']) {
        expect(JSON.stringify(release.body)).not.toContain(internal);
        expect(deviceRefusal.message).not.toContain(internal);
      }
      await expect(env.updates.metadata.refreshExpiring(Date.now() + 400 * DAY_MS)).rejects.toMatchObject({
        name: 'SigningUnavailableError',
      });
      const away = await readiness();
      expect(away.status).toBe(503);
      expect(away.body.checks['tuf signing keys']).toMatchObject({ ok: false, error: expect.stringMatching(/unavailable/) });
      // Nothing was answered wrongly: the image is not released, no new timestamp.
      expect((await env.api(env.tokens.acme, 'GET', `/v1/images/${upload.body.sha256}`)).body.status).toBe('uploaded');
      expect((await env.api(env.tokens.acme, 'GET', '/v1/metadata/timestamp.json')).body.signed.version).toBe(timestampBefore);
    } finally {
      await rename(pulled, join(token.tokenDir, tokenFolder!));
    }

    await waitFor(async () => (await readiness()).status === 200, { describe: 'ready again with the token back', timeoutMs: 10_000 });
    const resumed = await env.api(env.tokens.acme, 'POST', `/v1/images/${upload.body.sha256}/release`);
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    const timestamp = (await env.api(env.tokens.acme, 'GET', '/v1/metadata/timestamp.json')).body;
    expect(timestamp.signed.version).toBe(timestampBefore + 1);
    // Signed by the token's timestamp key, as root 2 lists it.
    const client = new UpdateMetadataClient({ root: ceremonyFileText(root2) }, device.security.deviceId);
    await expect(client.refresh((name, max) => deviceClient.metadata(name, max))).resolves.toBeDefined();
  });
});
