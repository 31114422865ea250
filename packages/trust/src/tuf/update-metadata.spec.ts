import { describe, expect, it } from 'vitest';
import {
  signDirectorTargets,
  signRoot,
  signSnapshot,
  signTargets,
  signTimestamp,
  metadataBytes,
  type ImageTarget,
  type RoleGrants,
} from './metadata-signer.js';
import { TufSigningKey } from './tuf-keys.js';
import { MetadataFile, MetadataRefusedError, TooManyBytesError, UpdateMetadataClient, type MetadataFetch } from './update-metadata.js';

const DEVICE = 'd'.repeat(64);
const NOW = new Date('2026-11-28T12:00:00Z');
const DAY = 86_400_000;
const later = (days: number) => new Date(NOW.getTime() + days * DAY);

const image = (version: string, sha: string): ImageTarget => ({
  path: `images/${sha}`,
  length: 1024,
  sha256: sha,
  custom: { component: 'os', version, securityVersion: 1, hardware: 'rampart-mt3620', measurement: 'm'.repeat(64) },
});
const OS_1 = image('1.0.0', 'a'.repeat(64));
const OS_2 = image('2.0.0', 'b'.repeat(64));

/** A tenant's repository in memory: what the updates service serves, with knobs for attacks. */
class Repository {
  readonly keys = {
    root: [TufSigningKey.generate()],
    targets: TufSigningKey.generate(),
    snapshot: TufSigningKey.generate(),
    timestamp: TufSigningKey.generate(),
    director: TufSigningKey.generate(),
  };
  readonly files = new Map<string, Buffer>();
  rootVersion = 1;
  versions = { targets: 0, snapshot: 0, timestamp: 0, director: 0 };

  private constructor() {}

  static async create(): Promise<Repository> {
    const repo = new Repository();
    repo.files.set(MetadataFile.root(1), metadataBytes(await signRoot(1, later(365), repo.grants(), repo.keys.root)));
    return repo;
  }

  grants(rootKeys = this.keys.root, threshold = 1): RoleGrants {
    return {
      root: { keys: rootKeys.map((k) => k.key), threshold },
      targets: [this.keys.targets.key],
      snapshot: [this.keys.snapshot.key],
      timestamp: [this.keys.timestamp.key],
      director: [this.keys.director.key],
    };
  }

  get root1(): string {
    return this.files.get(MetadataFile.root(1))!.toString();
  }

  async publish(images: ImageTarget[], directed: ImageTarget[], options: { timestampExpires?: Date; device?: string } = {}): Promise<void> {
    const targets = metadataBytes(await signTargets(++this.versions.targets, later(90), images, this.keys.targets));
    const snapshot = metadataBytes(
      await signSnapshot(++this.versions.snapshot, later(7), targets, this.versions.targets, this.keys.snapshot),
    );
    const timestamp = await signTimestamp(
      ++this.versions.timestamp,
      options.timestampExpires ?? later(1),
      snapshot,
      this.versions.snapshot,
      this.keys.timestamp,
    );
    this.files.set(MetadataFile.targets, targets);
    this.files.set(MetadataFile.snapshot, snapshot);
    this.files.set(MetadataFile.timestamp, metadataBytes(timestamp));
    this.files.set(
      MetadataFile.director,
      metadataBytes(
        await signDirectorTargets(
          ++this.versions.director,
          later(1),
          options.device ?? DEVICE,
          directed,
          { deployment: 'dep-1' },
          this.keys.director,
        ),
      ),
    );
  }

  readonly fetch: MetadataFetch = (name, maxBytes) => {
    const bytes = this.files.get(name);
    if (bytes !== undefined && bytes.length > maxBytes) return Promise.reject(new TooManyBytesError(name, maxBytes));
    return Promise.resolve(bytes);
  };
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof MetadataRefusedError)) throw new Error(`expected a refusal, got ${String(error)}`);
  return `${error.file}: ${error.reason}`;
}

function tamper(bytes: Buffer, edit: (json: { signed: Record<string, unknown> }) => void): Buffer {
  const json = JSON.parse(bytes.toString()) as { signed: Record<string, unknown> };
  edit(json);
  return Buffer.from(JSON.stringify(json));
}

describe('update metadata: the device side of TUF with a director', () => {
  it('trusts a consistent repository and returns what the director says this device should run', async () => {
    const repo = await Repository.create();
    await repo.publish([OS_1, OS_2], [OS_2]);
    const client = new UpdateMetadataClient({ root: repo.root1 }, DEVICE, () => NOW);
    const result = await client.refresh(repo.fetch);
    expect(result.targets).toEqual([{ path: OS_2.path, length: 1024, sha256: OS_2.sha256, custom: OS_2.custom }]);
    expect(result.directorFields).toEqual({ deployment: 'dep-1' });
  });

  it('refuses a signature that does not verify (a field changed after signing), and keeps what it trusted', async () => {
    const repo = await Repository.create();
    await repo.publish([OS_1], [OS_1]);
    const client = new UpdateMetadataClient({ root: repo.root1 }, DEVICE, () => NOW);
    const before = await client.refresh(repo.fetch);
    await repo.publish([OS_1, OS_2], [OS_2]);
    repo.files.set(
      MetadataFile.timestamp,
      tamper(repo.files.get(MetadataFile.timestamp)!, (j) => (j.signed['expires'] = '2099-01-01T00:00:00Z')),
    );
    expect(await refusal(client.refresh(repo.fetch))).toBe('timestamp.json: bad-signature');
    expect(client.trustedMetadata).toEqual(before.trusted);
  });

  it('refuses metadata signed by a key the root does not grant the role', async () => {
    const repo = await Repository.create();
    await repo.publish([OS_1], [OS_1]);
    const rogue = TufSigningKey.generate();
    repo.files.set(MetadataFile.targets, metadataBytes(await signTargets(1, later(90), [OS_1, OS_2], rogue)));
    const client = new UpdateMetadataClient({ root: repo.root1 }, DEVICE, () => NOW);
    // Longer than the snapshot says targets.json is: refused before a byte more is read (swapped bytes never reach the signature check).
    expect(await refusal(client.refresh(repo.fetch))).toBe('targets.json: length-or-hash');
    // A snapshot made for the rogue targets, signed by the real snapshot key, still meets the rogue signature.
    const rogueTargets = repo.files.get(MetadataFile.targets)!;
    const snapshot = metadataBytes(await signSnapshot(2, later(7), rogueTargets, 1, repo.keys.snapshot));
    repo.files.set(MetadataFile.snapshot, snapshot);
    repo.files.set(MetadataFile.timestamp, metadataBytes(await signTimestamp(2, later(1), snapshot, 2, repo.keys.timestamp)));
    expect(await refusal(client.refresh(repo.fetch))).toBe('targets.json: unknown-key');
  });

  it('refuses a root rotation without enough signatures of the old root, and follows one signed by old and new', async () => {
    const repo = await Repository.create();
    await repo.publish([OS_1], [OS_1]);
    const newRootKeys = [TufSigningKey.generate(), TufSigningKey.generate()];
    // Signed only by the new keys: an attacker who has the new keys but not the old.
    repo.files.set(MetadataFile.root(2), metadataBytes(await signRoot(2, later(365), repo.grants(newRootKeys, 2), newRootKeys)));
    const client = new UpdateMetadataClient({ root: repo.root1 }, DEVICE, () => NOW);
    expect(await refusal(client.refresh(repo.fetch))).toBe('2.root.json: unknown-key');
    // Old key and only one of the two new ones: the new root's own threshold (2) is not met.
    repo.files.set(
      MetadataFile.root(2),
      metadataBytes(await signRoot(2, later(365), repo.grants(newRootKeys, 2), [...repo.keys.root, newRootKeys[0]!])),
    );
    expect(await refusal(client.refresh(repo.fetch))).toBe('2.root.json: too-few-signatures');
    repo.files.set(
      MetadataFile.root(2),
      metadataBytes(await signRoot(2, later(365), repo.grants(newRootKeys, 2), [...repo.keys.root, ...newRootKeys])),
    );
    await client.refresh(repo.fetch);
    expect(JSON.parse(client.trustedMetadata.root).signed.version).toBe(2);
  });

  it('refuses rollback: older timestamp, older director targets', async () => {
    const repo = await Repository.create();
    await repo.publish([OS_1], [OS_1]);
    const oldFiles = new Map(repo.files);
    await repo.publish([OS_1, OS_2], [OS_2]);
    const client = new UpdateMetadataClient({ root: repo.root1 }, DEVICE, () => NOW);
    await client.refresh(repo.fetch);
    const replay = new Map(repo.files);
    replay.set(MetadataFile.timestamp, oldFiles.get(MetadataFile.timestamp)!);
    expect(await refusal(client.refresh((name) => Promise.resolve(replay.get(name))))).toBe('timestamp.json: rollback');
    replay.set(MetadataFile.timestamp, repo.files.get(MetadataFile.timestamp)!);
    replay.set(MetadataFile.director, oldFiles.get(MetadataFile.director)!);
    expect(await refusal(client.refresh((name) => Promise.resolve(replay.get(name))))).toBe('director.json: rollback');
  });

  it('refuses an expired timestamp (indefinite freeze)', async () => {
    const repo = await Repository.create();
    await repo.publish([OS_1], [OS_1], { timestampExpires: new Date(NOW.getTime() - 1_000) });
    const client = new UpdateMetadataClient({ root: repo.root1 }, DEVICE, () => NOW);
    expect(await refusal(client.refresh(repo.fetch))).toBe('timestamp.json: expired');
  });

  it('refuses mix-and-match: a snapshot naming targets that were never published, a director naming an unknown image', async () => {
    const repo = await Repository.create();
    await repo.publish([OS_1], [OS_1]);
    const client = new UpdateMetadataClient({ root: repo.root1 }, DEVICE, () => NOW);
    const targets = repo.files.get(MetadataFile.targets)!;
    // The snapshot names targets version 7 (with the served bytes' hash): that version was never published.
    const snapshot = metadataBytes(await signSnapshot(2, later(7), targets, 7, repo.keys.snapshot));
    const files = new Map(repo.files);
    files.set(MetadataFile.snapshot, snapshot);
    files.set(MetadataFile.timestamp, metadataBytes(await signTimestamp(2, later(1), snapshot, 2, repo.keys.timestamp)));
    expect(await refusal(client.refresh((name) => Promise.resolve(files.get(name))))).toBe('targets.json: mix-and-match');
    await repo.publish([OS_1], [OS_2]);
    expect(await refusal(client.refresh(repo.fetch))).toBe('director.json: mix-and-match');
  });

  it("refuses another device's director targets", async () => {
    const repo = await Repository.create();
    await repo.publish([OS_1], [OS_1], { device: 'e'.repeat(64) });
    const client = new UpdateMetadataClient({ root: repo.root1 }, DEVICE, () => NOW);
    expect(await refusal(client.refresh(repo.fetch))).toBe('director.json: wrong-device');
  });

  it('refuses metadata that is not metadata', async () => {
    const repo = await Repository.create();
    await repo.publish([OS_1], [OS_1]);
    repo.files.set(MetadataFile.timestamp, Buffer.from('{"signed": {"_type": "targets"}}'));
    const client = new UpdateMetadataClient({ root: repo.root1 }, DEVICE, () => NOW);
    expect(await refusal(client.refresh(repo.fetch))).toBe('timestamp.json: malformed');
  });
});
