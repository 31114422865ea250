import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  NO_TRUSTED_ROOT,
  DeviceUpdater,
  SecureOs,
  UpdateClient,
  manufactureDevice,
  provisionUpdateRoot,
  realEnvironment,
} from '@rampart/emulator';
import { createTestTenantIssuer, waitFor } from '@rampart/testing';
import { MetadataFile, TufSigningKey, metadataBytes, signRoot, signSnapshot, signTargets, signTimestamp } from '@rampart/trust';
import pg from 'pg';
import { BaseFetcher, Updater } from 'tuf-js';
// tuf-js tells "no such file" from other failures by this error (a missing N+1.root.json ends the root walk).
import { DownloadHTTPError } from 'tuf-js/dist/error.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpdatesEnvironment, type UpdatesEnvironment } from './updates-environment.js';

const DAY_MS = 86_400_000;
const METADATA_BASE = 'https://updates.invalid/v1/metadata';

/** tuf-js fetching over the device's own mutually authenticated channel (its operational certificate). */
class DeviceChannelFetcher extends BaseFetcher {
  readonly asked: string[] = [];

  constructor(private readonly client: UpdateClient) {
    super();
  }

  async fetch(url: string): Promise<ReadableStream<Uint8Array<ArrayBuffer>>> {
    const name = url.slice(METADATA_BASE.length + 1);
    this.asked.push(name);
    const bytes = await this.client.metadata(name, 4 * 1024 * 1024);
    if (bytes === undefined) throw new DownloadHTTPError(`${name}: not found`, 404);
    return new Blob([new Uint8Array(bytes)]).stream();
  }
}

/** A repository with keys of its own: what a server that is not the tenant's update server would offer. */
async function rogueRepository(): Promise<Map<string, Buffer>> {
  const [root, targets, snapshot, timestamp, director] = Array.from({ length: 5 }, () => TufSigningKey.generate());
  const expires = new Date(Date.now() + DAY_MS);
  const grants = {
    root: { keys: [root!.key], threshold: 1 },
    targets: [targets!.key],
    snapshot: [snapshot!.key],
    timestamp: [timestamp!.key],
    director: [director!.key],
  };
  const targetsBytes = metadataBytes(await signTargets(1, expires, [], targets!));
  const snapshotBytes = metadataBytes(await signSnapshot(1, expires, targetsBytes, 1, snapshot!));
  return new Map([
    [MetadataFile.root(1), metadataBytes(await signRoot(1, expires, grants, [root!]))],
    [MetadataFile.root(2), metadataBytes(await signRoot(2, expires, grants, [root!]))],
    [MetadataFile.timestamp, metadataBytes(await signTimestamp(1, expires, snapshotBytes, 1, timestamp!))],
    [MetadataFile.snapshot, snapshotBytes],
    [MetadataFile.targets, targetsBytes],
  ]);
}

/**
 * TUF §5.2: a device starts from a root it was given, never from whatever
 * `1.root.json` it first downloads. Each tenant's repository is made with
 * the tenant (so a device asking before anything was uploaded gets signed
 * metadata, not a 404 it could take for "up to date"), and its current
 * root comes with each claim for the device to pin.
 */
describe('a tenant update repository from the start', () => {
  let env: UpdatesEnvironment;
  let dir: string;

  beforeAll(async () => {
    env = await startUpdatesEnvironment('tufroot');
    dir = await mkdtemp(join(tmpdir(), 'rampart-tuf-'));
  });

  afterAll(async () => {
    await env?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  async function roots(): Promise<Array<{ tenant_id: string; version: number }>> {
    const client = new pg.Client({ connectionString: env.db.url });
    await client.connect();
    try {
      return (
        await client.query<{ tenant_id: string; version: number }>(
          `SELECT tenant_id, version FROM updates.metadata WHERE role = 'root' ORDER BY tenant_id, version`,
        )
      ).rows;
    } finally {
      await client.end();
    }
  }

  it('makes each tenant its repository when the tenant is created, before anything is uploaded or read', async () => {
    // Nothing here reads metadata or uploads: only the tenant-created events made these.
    await waitFor(async () => (await roots()).length === 2, { describe: 'repositories of acme and globex', timeoutMs: 10_000 });
    expect(await roots()).toEqual([
      { tenant_id: 'acme', version: 1 },
      { tenant_id: 'globex', version: 1 },
    ]);
    // Made again, from two places at once (as replicas would on a redelivered event): still one root, one key per role.
    await Promise.all([env.updates.metadata.ensure('acme'), env.updates.metadata.ensure('acme')]);
    expect((await roots()).filter((r) => r.tenant_id === 'acme')).toEqual([{ tenant_id: 'acme', version: 1 }]);
  }, 15_000);

  it('gives the device its tenant root at claim, and tuf-js starting from it verifies the repository before any upload', async () => {
    const device = await manufactureDevice(env.pki.manufacturerCa);
    const root = await env.claim(env.tokens.acme, device.security.deviceId);
    expect(JSON.parse(root)).toMatchObject({ signed: { _type: 'root', version: 1 } });
    // The same root again on a second claim (idempotent), and the one the repository serves.
    expect(await env.claim(env.tokens.acme, device.security.deviceId)).toBe(root);
    expect((await env.updates.metadata.file('acme', MetadataFile.root(1)))?.toString()).toBe(root);

    const certificate = (await createTestTenantIssuer(env.pki.platformCa, 'acme'))(device);
    const client = new UpdateClient({ host: '127.0.0.1', port: env.updates.devicePort }, () =>
      device.security.tlsContext(`${certificate.certificatePem}${certificate.chainPem}`, env.pki.platformCa.certificatePem),
    );
    const metadataDir = join(dir, 'genuine');
    await mkdir(metadataDir, { recursive: true });
    await writeFile(join(metadataDir, 'root.json'), root);
    const fetcher = new DeviceChannelFetcher(client);
    const updater = new Updater({ metadataDir, metadataBaseUrl: METADATA_BASE, fetcher });
    await updater.refresh();
    expect(fetcher.asked).toEqual([MetadataFile.root(2), MetadataFile.timestamp, MetadataFile.snapshot, MetadataFile.targets]);
    expect(await updater.getTargetInfo('images/anything')).toBeUndefined();
    expect(JSON.parse(await readFile(join(metadataDir, 'timestamp.json'), 'utf8'))).toMatchObject({ signed: { _type: 'timestamp' } });
  });

  describe('offered a 1.root.json not chained from the root it was given', () => {
    let rogue: Server;
    let rogueUrl = '';
    const served: string[] = [];
    let files = new Map<string, Buffer>();

    beforeAll(async () => {
      files = await rogueRepository();
      // A server holding a certificate the devices accept (any platform-CA server certificate), serving its own repository.
      rogue = createServer(
        { cert: await readFile(env.pki.files.gatewayCert), key: await readFile(env.pki.files.gatewayKey) },
        (req, res) => {
          const name = /^\/v1\/metadata\/([^?]+)/.exec(req.url ?? '')?.[1] ?? '';
          served.push(name);
          const body = files.get(name);
          res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
          res.end(body);
        },
      );
      await new Promise<void>((resolve) => rogue.listen(0, '127.0.0.1', resolve));
      rogueUrl = `127.0.0.1:${(rogue.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      rogue?.closeAllConnections();
      await new Promise<void>((resolve) => (rogue === undefined ? resolve() : rogue.close(() => resolve())));
    });

    it('tuf-js refuses it: its 2.root.json is not signed by the pinned root keys', async () => {
      const device = await manufactureDevice(env.pki.manufacturerCa);
      const root = await env.claim(env.tokens.acme, device.security.deviceId);
      const certificate = (await createTestTenantIssuer(env.pki.platformCa, 'acme'))(device);
      const port = Number(rogueUrl.split(':')[1]);
      const client = new UpdateClient({ host: '127.0.0.1', port }, () =>
        device.security.tlsContext(`${certificate.certificatePem}${certificate.chainPem}`, env.pki.platformCa.certificatePem),
      );
      const metadataDir = join(dir, 'rogue');
      await mkdir(metadataDir, { recursive: true });
      await writeFile(join(metadataDir, 'root.json'), root);
      const updater = new Updater({ metadataDir, metadataBaseUrl: METADATA_BASE, fetcher: new DeviceChannelFetcher(client) });
      await expect(updater.refresh()).rejects.toThrow(/root was signed by 0\/1 keys/);
      // What it trusts is still the root it was given.
      expect(await readFile(join(metadataDir, 'root.json'), 'utf8')).toBe(root);
    });

    it("the device's own update client refuses it too, and a device given no root fetches nothing and updates nothing", async () => {
      const port = Number(rogueUrl.split(':')[1]);
      const made = async (provision: boolean) => {
        const device = await manufactureDevice(env.pki.manufacturerCa);
        const root = await env.claim(env.tokens.acme, device.security.deviceId);
        if (provision) expect(provisionUpdateRoot(device.security.store, device.security.deviceId, root)).toBe(true);
        const certificate = (await createTestTenantIssuer(env.pki.platformCa, 'acme'))(device);
        const os = new SecureOs(device.security, realEnvironment, {
          telemetry: () => undefined,
          failure: () => undefined,
          heartbeat: () => undefined,
        });
        await os.powerOn();
        const client = new UpdateClient({ host: '127.0.0.1', port }, () =>
          device.security.tlsContext(`${certificate.certificatePem}${certificate.chainPem}`, env.pki.platformCa.certificatePem),
        );
        return { device, os, updater: new DeviceUpdater(device.security.deviceId, os, client, device.security.store) };
      };
      const pinned = await made(true);
      try {
        const answer = await pinned.updater.check();
        expect(answer).toMatchObject({ result: 'refused', reason: 'unknown-key' });
        expect(served).toContain(MetadataFile.root(2));
        // Provisioning again cannot swap the root a device already trusts.
        expect(
          provisionUpdateRoot(pinned.device.security.store, pinned.device.security.deviceId, files.get(MetadataFile.root(1))!.toString()),
        ).toBe(false);
      } finally {
        pinned.os.shutdown();
      }

      served.length = 0;
      const unprovisioned = await made(false);
      try {
        expect(await unprovisioned.updater.check()).toMatchObject({ result: 'refused', reason: NO_TRUSTED_ROOT });
        expect(served).toEqual([]);
      } finally {
        unprovisioned.os.shutdown();
      }
    });
  });

  it('refuses to provision anything that is not root metadata', async () => {
    const device = await manufactureDevice(env.pki.manufacturerCa);
    const timestamp = (await env.updates.metadata.file('acme', MetadataFile.timestamp))!.toString();
    expect(() => provisionUpdateRoot(device.security.store, device.security.deviceId, timestamp)).toThrow(/root/);
    expect(() => provisionUpdateRoot(device.security.store, device.security.deviceId, 'not json')).toThrow();
  });
});
