import { randomBytes, randomUUID } from 'node:crypto';
import { request } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { ImageEventSchema, Stream, Subject, type ImageEvent } from '@rampart/contracts';
import { type DownloadError, UpdateClient, manufactureDevice, type ManufacturedDevice } from '@rampart/emulator';
import { TypedBus, decodeJson, type NatsBus } from '@rampart/service-kit';
import { createTestTenantIssuer, queryDatabase, waitFor, type TestOperationalCertificate, type TestPki } from '@rampart/testing';
import { ImageSigner, MetadataFile, UpdateMetadataClient, encodeImage } from '@rampart/trust';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningUpdates } from '../src/start-updates.js';
import { startUpdatesEnvironment, type UpdatesEnvironment } from './updates-environment.js';

const HARDWARE = 'rampart-mt3620';
const signer = ImageSigner.create();
const osImage = (version: string, securityVersion: number, payload = randomBytes(1024 * 1024)) =>
  encodeImage(signer.sign({ component: 'os', version, securityVersion, hardware: HARDWARE }, payload));

/** The updates service on real PostgreSQL and NATS, with the attestation service holding tenants and claims. */
describe('updates service', () => {
  let env: UpdatesEnvironment;
  let updates: RunningUpdates;
  let pki: TestPki;
  let bus: NatsBus;
  let tokens: UpdatesEnvironment['tokens'];
  let api: UpdatesEnvironment['api'];
  let device: ManufacturedDevice;
  let operational: TestOperationalCertificate;
  let issueAcme: Awaited<ReturnType<typeof createTestTenantIssuer>>;

  const deviceClient = (certificate: TestOperationalCertificate, options = { requestDeadlineMs: 10_000, resumeAttempts: 3 }) =>
    new UpdateClient(
      { host: '127.0.0.1', port: updates.devicePort },
      () => device.security.tlsContext(`${certificate.certificatePem}${certificate.chainPem}`, pki.platformCa.certificatePem),
      options,
    );

  beforeAll(async () => {
    env = await startUpdatesEnvironment('updates');
    ({ updates, pki, bus, tokens, api } = env);
    device = await manufactureDevice(pki.manufacturerCa);
    await env.claim(tokens.acme, device.security.deviceId);
    issueAcme = await createTestTenantIssuer(pki.platformCa, 'acme');
    operational = issueAcme(device);
  });

  afterAll(async () => {
    await env?.close();
  });

  let released = '';
  let deploymentId = '';

  it('takes signed images: content-addressed, immutable, refusing what does not parse or verify, and Readers', async () => {
    const bytes = osImage('2.0.0', 2);
    const first = await api(tokens.acme, 'POST', '/v1/images', bytes);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      component: 'os',
      version: '2.0.0',
      securityVersion: 2,
      hardware: HARDWARE,
      size: bytes.length,
      status: 'uploaded',
    });
    released = first.body.sha256 as string;
    // The same bytes again: the same image.
    expect((await api(tokens.acme, 'POST', '/v1/images', bytes)).body.sha256).toBe(released);
    // Other bytes under the same version: refused, versions are immutable.
    expect(await api(tokens.acme, 'POST', '/v1/images', osImage('2.0.0', 2))).toMatchObject({ status: 409 });
    // Garbage, a flipped payload byte (the signature no longer verifies), and a Reader: refused.
    expect(await api(tokens.acme, 'POST', '/v1/images', randomBytes(2048))).toMatchObject({
      status: 400,
      body: { code: 'IMAGE_REJECTED' },
    });
    const flipped = Buffer.from(osImage('2.1.0', 2));
    flipped[flipped.length - 1]! ^= 1;
    expect(await api(tokens.acme, 'POST', '/v1/images', flipped)).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/signature/) },
    });
    expect((await api(tokens.acmeReader, 'POST', '/v1/images', osImage('2.2.0', 2))).status).toBe(403);
    // Another tenant sees none of it.
    expect((await api(tokens.globex, 'GET', `/v1/images/${released}`)).status).toBe(404);
    expect(await api(tokens.globex, 'GET', '/v1/images')).toMatchObject({ status: 200, body: [] });
  });

  it('refuses upper-case paths without a token too (Express matches routes case-insensitively)', async () => {
    const anonymous = (method: string, path: string) =>
      fetch(`${updates.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: method === 'GET' ? null : '{}' });
    for (const [method, path] of [
      ['GET', '/V1/products'],
      ['GET', '/V1/images'],
      ['POST', '/V1/products'],
      ['POST', '/V1/images'],
      ['POST', `/V1/deployments/${randomUUID()}/abort`],
    ] as const) {
      expect((await anonymous(method, path)).status, `${method} ${path}`).toBe(401);
    }
  });

  it('releases an image into the signed targets and announces it with its measurement', async () => {
    const events: ImageEvent[] = [];
    const consumer = await bus.consumeDurable(
      { stream: Stream.updates.name, durable: 'updates-test', filterSubject: 'updates.image.>', maxAckPending: 10, ackWaitMs: 5_000 },
      (m) => {
        events.push(ImageEventSchema.parse(decodeJson(m.data)));
        m.ack();
      },
    );
    try {
      const release = await api(tokens.acme, 'POST', `/v1/images/${released}/release`);
      expect(release).toMatchObject({ status: 200, body: { status: 'released' } });
      await waitFor(() => events.length === 1, { describe: 'release announced' });
      expect(events[0]).toEqual({ imageId: released, stage: 'os', sha256: release.body.measurement, version: '2.0.0', securityVersion: 2 });
      const targets = await api(tokens.acmeReader, 'GET', `/v1/metadata/${MetadataFile.targets}`);
      expect(Object.keys((targets.body as { signed: { targets: object } }).signed.targets)).toEqual([`images/${released}`]);
    } finally {
      await consumer.close();
    }
  });

  it('directs a grouped device to its deployment; the device verifies the metadata and downloads the image over mutual TLS', async () => {
    const product = await api(tokens.acme, 'POST', '/v1/products', { name: 'Thermostat' });
    expect(product.status).toBe(201);
    expect(product.body.groups.map((g: { name: string }) => g.name)).toEqual(['Development', 'Field Test', 'Production']);
    const production = product.body.groups.find((g: { name: string }) => g.name === 'Production').id as string;
    expect((await api(tokens.acme, 'PUT', `/v1/device-groups/${production}/devices/${device.security.deviceId}`)).status).toBe(204);
    // A device another tenant claimed (or nobody did) cannot be put in a group.
    expect((await api(tokens.globex, 'GET', `/v1/device-groups`)).body).toEqual([]);
    const deployment = await api(tokens.acme, 'POST', '/v1/deployments', { groupId: production, images: [released] });
    expect(deployment).toMatchObject({ status: 201, body: { state: 'active', images: [released] } });
    deploymentId = deployment.body.id as string;

    const client = deviceClient(operational);
    // First contact: root version 1 over the mutually authenticated channel; every later root must chain from it.
    const root = await client.metadata(MetadataFile.root(1), 64 * 1024);
    const verifier = new UpdateMetadataClient({ root: root!.toString() }, device.security.deviceId);
    const refreshed = await verifier.refresh(client.metadata);
    expect(refreshed.directorFields).toEqual({ deployment: deploymentId });
    expect(refreshed.targets).toEqual([
      expect.objectContaining({ sha256: released, custom: expect.objectContaining({ component: 'os', version: '2.0.0' }) }),
    ]);
    const image = await client.download(refreshed.targets[0]!);
    expect(image.length).toBe(refreshed.targets[0]!.length);
    await client.report(deploymentId, 'installed', 'committed');
    // A report the database could not hold is refused as malformed, and changes nothing.
    await expect(client.report(deploymentId, 'failed', 'boom\u0000')).rejects.toThrow('report: HTTP 400');
    await expect(client.report(deploymentId, 'failed', 'boom\ud800')).rejects.toThrow('report: HTTP 400');
    const status = await api(tokens.acmeReader, 'GET', `/v1/deployments/${deploymentId}`);
    expect(status.body.counts).toMatchObject({ members: 1, installed: 1 });
    expect(status.body.devices).toEqual([
      expect.objectContaining({ deviceId: device.security.deviceId, state: 'installed', detail: 'committed' }),
    ]);
  });

  it('refuses a manufacturer identity at the handshake, and a stale or foreign certificate', async () => {
    const refused = await new Promise<string>((resolve) => {
      const socket = tlsConnect({
        host: '127.0.0.1',
        port: updates.devicePort,
        servername: 'localhost',
        secureContext: device.security.tlsContext(device.identityCertificatePem, pki.platformCa.certificatePem),
      });
      socket.once('secureConnect', () => socket.write('GET /v1/metadata/timestamp.json HTTP/1.1\r\nhost: x\r\n\r\n'));
      socket.once('data', () => resolve('answered'));
      socket.once('error', (error: Error) => resolve(error.message));
      socket.once('close', () => resolve('closed'));
    });
    expect(refused).not.toBe('answered');
    // An operational certificate from long ago: not a fresh attestation.
    const stale = deviceClient(issueAcme(device, -1));
    await expect(stale.metadata(MetadataFile.director, 4096)).rejects.toThrow();
    // Another tenant's device sees none of acme's images.
    const globexDevice = await manufactureDevice(pki.manufacturerCa);
    const issueGlobex = await createTestTenantIssuer(pki.platformCa, 'globex');
    const globexCert = issueGlobex(globexDevice);
    const foreign = new UpdateClient({ host: '127.0.0.1', port: updates.devicePort }, () =>
      globexDevice.security.tlsContext(`${globexCert.certificatePem}${globexCert.chainPem}`, pki.platformCa.certificatePem),
    );
    await expect(foreign.download({ path: `images/${released}`, length: 10, sha256: released, custom: {} as never })).rejects.toMatchObject(
      { reason: 'refused' } satisfies Partial<DownloadError>,
    );
  });

  it('resumes a download with Range and refuses more bytes than the targets declare', async () => {
    const sha = released;
    const half = await new Promise<Buffer>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: updates.devicePort,
          path: `/v1/images/${sha}`,
          servername: 'localhost',
          headers: { range: 'bytes=1000-1999' },
          secureContext: device.security.tlsContext(`${operational.certificatePem}${operational.chainPem}`, pki.platformCa.certificatePem),
        } as never,
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => (res.statusCode === 206 ? resolve(Buffer.concat(chunks)) : reject(new Error(`HTTP ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(half.length).toBe(1000);
    // A target that declares fewer bytes than the server sends: the device stops at the declared length.
    const client = deviceClient(operational);
    await expect(client.download({ path: `images/${sha}`, length: 4096, sha256: sha, custom: {} as never })).rejects.toMatchObject({
      reason: 'endless-data',
    });
  });

  it('keeps the deployment history; abort sends the group back; revocation takes the image out of every answer', async () => {
    const groups = await api(tokens.acme, 'GET', '/v1/device-groups');
    const production = groups.body.find((g: { name: string }) => g.name === 'Production').id as string;
    const next = await api(tokens.acme, 'POST', '/v1/images', osImage('3.0.0', 3));
    await api(tokens.acme, 'POST', `/v1/images/${next.body.sha256}/release`);
    const second = await api(tokens.acme, 'POST', '/v1/deployments', { groupId: production, images: [next.body.sha256] });
    const history = await api(tokens.acme, 'GET', `/v1/deployments?groupId=${production}`);
    expect(history.body.map((d: { state: string }) => d.state)).toEqual(['active', 'superseded']);
    const client = deviceClient(operational);
    const root = (await client.metadata(MetadataFile.root(1), 64 * 1024))!.toString();
    const directed = async () =>
      (await new UpdateMetadataClient({ root }, device.security.deviceId).refresh(client.metadata)).targets.map((t) => t.custom.version);
    expect(await directed()).toEqual(['3.0.0']);
    expect((await api(tokens.acmeReader, 'POST', `/v1/deployments/${second.body.id}/abort`, { reason: 'x' })).status).toBe(403);
    expect(await api(tokens.acme, 'POST', `/v1/deployments/${second.body.id}/abort`, { reason: 'crash rate' })).toMatchObject({
      status: 200,
      body: { state: 'aborted', reason: 'crash rate' },
    });
    expect(await directed()).toEqual(['2.0.0']);
    expect((await api(tokens.acme, 'POST', `/v1/deployments/${second.body.id}/resume`, {})).status).toBe(409);
    await api(tokens.acme, 'POST', `/v1/images/${released}/revoke`);
    expect(await directed()).toEqual([]);
  });

  it('rotates the root: the new root is signed by the old keys and the new, and a device follows it', async () => {
    const client = deviceClient(operational);
    const root1 = (await client.metadata(MetadataFile.root(1), 64 * 1024))!.toString();
    expect(await updates.metadata.rotateRoot('acme')).toBe(2);
    const verifier = new UpdateMetadataClient({ root: root1 }, device.security.deviceId);
    await verifier.refresh(client.metadata);
    expect(JSON.parse(verifier.trustedMetadata.root).signed.version).toBe(2);
  });

  it("names the devices of a group or a deployment to its own tenant only (the failures service's cohort views)", async () => {
    const typed = new TypedBus(bus);
    const groups = await api(tokens.acme, 'GET', '/v1/device-groups');
    const production = groups.body.find((g: { name: string }) => g.name === 'Production').id as string;
    expect(await typed.request(Subject.updatesCohortDevices, { tenantId: 'acme', groupId: production })).toEqual({
      deviceIds: [device.security.deviceId],
    });
    // Another tenant naming acme's group learns nothing, not even that it exists.
    expect(await typed.request(Subject.updatesCohortDevices, { tenantId: 'globex', groupId: production })).toEqual({ deviceIds: null });
    const [latest] = (await api(tokens.acme, 'GET', `/v1/deployments?groupId=${production}`)).body as Array<{ id: string }>;
    expect(await typed.request(Subject.updatesCohortDevices, { tenantId: 'acme', deploymentId: latest!.id, wave: 0 })).toEqual({
      deviceIds: [device.security.deviceId],
    });
    expect(await typed.request(Subject.updatesCohortDevices, { tenantId: 'globex', deploymentId: latest!.id })).toEqual({
      deviceIds: null,
    });
  });

  it("offers the OS on a group's feed to its devices' hardware: early evaluation first, then retail; a deployment's OS wins", async () => {
    const product = await api(tokens.acme, 'POST', '/v1/products', { name: 'Feeds' });
    const retailGroup = product.body.groups.find((g: { name: string }) => g.name === 'Field Test').id as string;
    const evalGroup = (
      await api(tokens.acme, 'POST', '/v1/device-groups', { productId: product.body.product.id, name: 'Eval', osFeed: 'retail-eval' })
    ).body.id as string;
    const member = async (groupId: string) => {
      const made = await manufactureDevice(pki.manufacturerCa);
      await env.claim(tokens.acme, made.security.deviceId);
      expect((await api(tokens.acme, 'PUT', `/v1/device-groups/${groupId}/devices/${made.security.deviceId}`)).status).toBe(204);
      const certificate = issueAcme(made);
      const client = new UpdateClient({ host: '127.0.0.1', port: updates.devicePort }, () =>
        made.security.tlsContext(`${certificate.certificatePem}${certificate.chainPem}`, pki.platformCa.certificatePem),
      );
      /** What the director tells this device, saying it is `hardware` (as the emulated device does). */
      return async (hardware: string | null = HARDWARE) => {
        const root = (await client.metadata(MetadataFile.root(1), 64 * 1024))!.toString();
        const refreshed = await new UpdateMetadataClient({ root }, made.security.deviceId).refresh((name, maxBytes) =>
          client.metadata(name === MetadataFile.director && hardware !== null ? `${name}?hardware=${hardware}` : name, maxBytes),
        );
        return { versions: refreshed.targets.map((t) => t.custom.version), fields: refreshed.directorFields };
      };
    };
    const evaluator = await member(evalGroup);
    const retail = await member(retailGroup);
    const release = async (version: string, securityVersion: number, body?: object) => {
      const uploaded = await api(tokens.acme, 'POST', '/v1/images', osImage(version, securityVersion));
      return {
        sha256: uploaded.body.sha256 as string,
        answer: await api(tokens.acme, 'POST', `/v1/images/${uploaded.body.sha256}/release`, body),
      };
    };

    // Released, but on no feed: not offered.
    const offFeed = await release('4.0.0', 4);
    expect(await evaluator()).toEqual({ versions: [], fields: { deployment: null } });
    expect(offFeed.answer.body.osFeed).toBeNull();
    const early = await release('4.0.1', 4, { osFeed: 'retail-eval' });
    expect(early.answer).toMatchObject({ status: 200, body: { status: 'released', osFeed: 'retail-eval' } });
    expect(await evaluator()).toEqual({ versions: ['4.0.1'], fields: { deployment: null, osFeed: 'retail-eval' } });
    expect(await retail()).toEqual({ versions: [], fields: { deployment: null } });
    // Other hardware, or none said: not offered.
    expect((await evaluator('rampart-other')).versions).toEqual([]);
    expect((await evaluator(null)).versions).toEqual([]);
    // Promoted to retail: now everyone; and it cannot go back to early evaluation.
    expect(await api(tokens.acme, 'POST', `/v1/images/${early.sha256}/release`, { osFeed: 'retail' })).toMatchObject({
      status: 200,
      body: { osFeed: 'retail' },
    });
    expect(await retail()).toEqual({ versions: ['4.0.1'], fields: { deployment: null, osFeed: 'retail' } });
    expect((await api(tokens.acme, 'POST', `/v1/images/${early.sha256}/release`, { osFeed: 'retail-eval' })).status).toBe(409);
    // The next early build reaches evaluators only; retail stays on 4.0.1.
    const next = await release('4.1.0', 5, { osFeed: 'retail-eval' });
    expect((await evaluator()).versions).toEqual(['4.1.0']);
    expect((await retail()).versions).toEqual(['4.0.1']);
    // A deployment naming an OS decides it for its group; one naming only apps leaves the feed's OS.
    const pinned = await release('3.9.0', 4);
    const deployment = await api(tokens.acme, 'POST', '/v1/deployments', { groupId: retailGroup, images: [pinned.sha256] });
    expect(await retail()).toEqual({ versions: ['3.9.0'], fields: { deployment: deployment.body.id } });
    // A group that takes no updates gets no OS from its feed either; a revoked image leaves its feed.
    await api(tokens.acme, 'PATCH', `/v1/device-groups/${evalGroup}`, { updatePolicy: 'none' });
    expect((await evaluator()).versions).toEqual([]);
    await api(tokens.acme, 'PATCH', `/v1/device-groups/${evalGroup}`, { updatePolicy: 'all' });
    await api(tokens.acme, 'POST', `/v1/images/${next.sha256}/revoke`);
    expect((await evaluator()).versions).toEqual(['4.0.1']);
    // Bad input changes nothing: a feed that does not exist, and a non-OS image.
    expect((await api(tokens.acme, 'POST', `/v1/images/${early.sha256}/release`, { osFeed: 'beta' })).status).toBe(400);
    expect((await api(tokens.acmeReader, 'POST', `/v1/images/${pinned.sha256}/release`, { osFeed: 'retail' })).status).toBe(403);
    expect((await api(tokens.acme, 'GET', `/v1/images/${pinned.sha256}`)).body.osFeed).toBeNull();
  });

  it('lets two tenants ship the same bytes, each its own image, and tells neither that the other holds them', async () => {
    const bytes = osImage('7.0.0', 7, randomBytes(64 * 1024));
    const acme = await api(tokens.acme, 'POST', '/v1/images', bytes);
    expect(acme.status).toBe(201);
    const globex = await api(tokens.globex, 'POST', '/v1/images', bytes);
    // Not 409 "another tenant holds these": a new image of globex's, the same content address.
    expect(globex).toMatchObject({ status: 201, body: { sha256: acme.body.sha256, status: 'uploaded' } });
    expect((await api(tokens.globex, 'POST', `/v1/images/${globex.body.sha256}/release`)).status).toBe(200);
    // Each tenant's image is its own: globex's release leaves acme's uploaded, and acme's bytes intact.
    expect((await api(tokens.acme, 'GET', `/v1/images/${acme.body.sha256}`)).body.status).toBe('uploaded');
    expect((await api(tokens.globex, 'GET', `/v1/images/${acme.body.sha256}`)).body.status).toBe('released');
    const chunks = await queryDatabase<{ n: string }>(
      env.db.url,
      `SELECT count(*) AS n FROM updates.image_chunks WHERE image_sha256 = $1`,
      [acme.body.sha256],
    );
    expect(Number(chunks[0]?.n)).toBe(1);
  });

  it("answers 404 for another tenant's device group, never its (empty) member list", async () => {
    const product = await api(tokens.acme, 'POST', '/v1/products', { name: 'Isolation' });
    const group = product.body.groups[0].id as string;
    expect(await api(tokens.acme, 'GET', `/v1/device-groups/${group}/devices`)).toMatchObject({ status: 200, body: [] });
    expect((await api(tokens.globex, 'GET', `/v1/device-groups/${group}/devices`)).status).toBe(404);
    expect((await api(tokens.acme, 'GET', `/v1/device-groups/${randomUUID()}/devices`)).status).toBe(404);
  });

  it('refuses a revoked device at once, though its certificate is still valid', async () => {
    const client = deviceClient(operational);
    expect(await client.metadata(MetadataFile.timestamp, 16 * 1024)).toBeDefined();
    const revoke = await fetch(`${env.attestation.url}/v1/devices/${device.security.deviceId}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.acme}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'stolen' }),
    });
    expect(revoke.status).toBeLessThan(300);
    await waitFor(
      async () =>
        (await deviceClient(operational)
          .metadata(MetadataFile.timestamp, 16 * 1024)
          .catch((e: unknown) => String(e))) ===
        'DownloadError: timestamp.json: HTTP 403 {"code":"REVOKED","message":"this device is revoked"}',
      { describe: 'the revoked device refused' },
    );
  });
});
