import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BaseFetcher, Updater } from 'tuf-js';
// tuf-js tells "no such file" from other failures by this error (a missing N+1.root.json ends the root walk).
import { DownloadHTTPError } from 'tuf-js/dist/error.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  metadataBytes,
  signDirectorTargets,
  signRoot,
  signSnapshot,
  signTargets,
  signTimestamp,
  type ImageTarget,
} from './metadata-signer.js';
import {
  OfflineRootError,
  ceremonyFileText,
  combineSignatures,
  makeOfflineRoot,
  parseOnlineGrants,
  parseRootMetadata,
  signOfflineRoot,
  verifyImportedRoot,
  verifyRootRotation,
  type RootMetadata,
  type SignedCopy,
} from './offline-root.js';
import { TufSigningKey } from './tuf-keys.js';
import { MetadataFile, MetadataRefusedError, UpdateMetadataClient, type MetadataFetch } from './update-metadata.js';

const DEVICE = 'd'.repeat(64);
// Now, not a fixed day: tuf-js reads the system clock for expiry.
const NOW = new Date();
const DAY = 86_400_000;
const later = (days: number) => new Date(NOW.getTime() + days * DAY);
const OS: ImageTarget = {
  path: `images/${'a'.repeat(64)}`,
  length: 1024,
  sha256: 'a'.repeat(64),
  custom: { component: 'os', version: '1.0.0', securityVersion: 1, hardware: 'rampart-emu-1', measurement: 'm'.repeat(64) },
};

/**
 * A tenant's repository as the updates service keeps it today: root version
 * 1 signed by one online root key, and the online roles' metadata.
 */
class PlatformRepository {
  readonly onlineRootKey = TufSigningKey.generate();
  readonly targets = TufSigningKey.generate();
  readonly snapshot = TufSigningKey.generate();
  readonly timestamp = TufSigningKey.generate();
  readonly director = TufSigningKey.generate();
  readonly files = new Map<string, Buffer>();

  private constructor() {}

  static async create(): Promise<PlatformRepository> {
    const repo = new PlatformRepository();
    const grants = {
      root: { keys: [repo.onlineRootKey.key], threshold: 1 },
      targets: [repo.targets.key],
      snapshot: [repo.snapshot.key],
      timestamp: [repo.timestamp.key],
      director: [repo.director.key],
    };
    repo.files.set(MetadataFile.root(1), metadataBytes(await signRoot(1, later(365), grants, [repo.onlineRootKey])));
    const targets = metadataBytes(await signTargets(1, later(90), [OS], repo.targets));
    const snapshot = metadataBytes(await signSnapshot(1, later(7), targets, 1, repo.snapshot));
    repo.files.set(MetadataFile.targets, targets);
    repo.files.set(MetadataFile.snapshot, snapshot);
    repo.files.set(MetadataFile.timestamp, metadataBytes(await signTimestamp(1, later(1), snapshot, 1, repo.timestamp)));
    repo.files.set(MetadataFile.director, metadataBytes(await signDirectorTargets(1, later(1), DEVICE, [OS], {}, repo.director)));
    return repo;
  }

  get root1(): string {
    return this.files.get(MetadataFile.root(1))!.toString('utf8');
  }

  get trustedRoot(): RootMetadata {
    return parseRootMetadata(this.root1);
  }

  readonly fetch: MetadataFetch = (name) => Promise.resolve(this.files.get(name));
}

/** A holder's signature, passed through a file as on an offline machine: written, carried, read back. */
function signedCopy(root: RootMetadata, key: TufSigningKey, file: string, previous?: RootMetadata): SignedCopy {
  return { file, metadata: parseRootMetadata(ceremonyFileText(signOfflineRoot(root, key, NOW, previous)), file) };
}

function refusalOf(run: () => unknown): OfflineRootError {
  try {
    run();
  } catch (error) {
    if (error instanceof OfflineRootError) return error;
    throw error;
  }
  throw new Error('expected an OfflineRootError');
}

/** What the emulated device's own verifier says to the repository: the root version it follows, or why it refuses. */
async function deviceFollows(repo: PlatformRepository): Promise<number | string> {
  const client = new UpdateMetadataClient({ root: repo.root1 }, DEVICE, () => NOW);
  try {
    await client.refresh(repo.fetch);
    return (JSON.parse(client.trustedMetadata.root) as { signed: { version: number } }).signed.version;
  } catch (error) {
    if (error instanceof MetadataRefusedError) return `${error.file}: ${error.reason}`;
    throw error;
  }
}

const METADATA_BASE = 'https://updates.invalid/v1/metadata';

class RepositoryFetcher extends BaseFetcher {
  constructor(private readonly repo: PlatformRepository) {
    super();
  }

  fetch(url: string): Promise<ReadableStream<Uint8Array<ArrayBuffer>>> {
    const name = url.slice(METADATA_BASE.length + 1);
    const bytes = this.repo.files.get(name);
    if (bytes === undefined) return Promise.reject(new DownloadHTTPError(`${name}: not found`, 404));
    return Promise.resolve(new Blob([new Uint8Array(bytes)]).stream());
  }
}

describe('an offline, threshold-signed TUF root', () => {
  let dir: string;
  let clients = 0;
  const holders = [TufSigningKey.generate(), TufSigningKey.generate(), TufSigningKey.generate()];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-offline-root-'));
  });

  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** tuf-js, starting from the repository's root 1: the root version it trusts after a refresh. */
  async function tufJsFollows(repo: PlatformRepository): Promise<number> {
    const metadataDir = join(dir, `client-${++clients}`);
    await mkdir(metadataDir, { recursive: true });
    await writeFile(join(metadataDir, 'root.json'), repo.root1);
    const updater = new Updater({ metadataDir, metadataBaseUrl: METADATA_BASE, fetcher: new RepositoryFetcher(repo) });
    await updater.refresh();
    return (JSON.parse(await readFile(join(metadataDir, 'root.json'), 'utf8')) as { signed: { version: number } }).signed.version;
  }

  function unsignedRoot(repo: PlatformRepository): RootMetadata {
    return makeOfflineRoot({
      version: 2,
      expires: later(365),
      rootKeys: holders.map((h) => h.key),
      threshold: 2,
      online: parseOnlineGrants(JSON.parse(repo.root1)),
    });
  }

  it('lists the offline keys with their threshold, and the online roles exactly as the current root gives them', async () => {
    const repo = await PlatformRepository.create();
    const root = unsignedRoot(repo);
    expect(root.signed.version).toBe(2);
    expect(root.signed.roles['root']).toMatchObject({ keyIDs: holders.map((h) => h.keyId), threshold: 2 });
    const current = repo.trustedRoot.signed;
    for (const role of ['targets', 'snapshot', 'timestamp', 'director']) {
      expect(root.signed.roles[role]).toEqual(current.roles[role]);
      for (const id of current.roles[role]!.keyIDs) expect(root.signed.keys[id]).toEqual(current.keys[id]);
    }
    // The online root key is not carried over: it is what the ceremony replaces.
    expect(root.signed.keys[repo.onlineRootKey.keyId]).toBeUndefined();
    expect(root.signatures).toEqual({});
  });

  it('is followed, signed 2 of 3 on separate machines and merged, by the emulated device and by tuf-js', async () => {
    const repo = await PlatformRepository.create();
    const unsigned = unsignedRoot(repo);
    const merged = combineSignatures([signedCopy(unsigned, holders[0]!, 'a.json'), signedCopy(unsigned, holders[2]!, 'c.json')]);
    // Rotating from the platform's online root: its key signs too (the import's step), and then the rotation holds.
    expect(() => verifyRootRotation(repo.trustedRoot, merged)).toThrow(/threshold of version 1's root keys/);
    const rotation = combineSignatures(
      [{ file: 'merged.json', metadata: merged }, signedCopy(unsigned, repo.onlineRootKey, 'platform.json', repo.trustedRoot)],
      repo.trustedRoot,
    );
    repo.files.set(MetadataFile.root(2), metadataBytes(rotation));
    expect(await deviceFollows(repo)).toBe(2);
    expect(await tufJsFollows(repo)).toBe(2);
  });

  it('is refused, signed by one of the three offline keys (and the old root), by the ceremony, the device and tuf-js', async () => {
    const repo = await PlatformRepository.create();
    const unsigned = unsignedRoot(repo);
    const copies = [
      signedCopy(unsigned, holders[1]!, 'b.json'),
      signedCopy(unsigned, repo.onlineRootKey, 'platform.json', repo.trustedRoot),
    ];
    expect(refusalOf(() => combineSignatures(copies, repo.trustedRoot))).toMatchObject({ reason: 'too-few-signatures' });
    const oneOfThree = parseRootMetadata(ceremonyFileText(copies[0]!.metadata));
    oneOfThree.signatures[repo.onlineRootKey.keyId] = copies[1]!.metadata.signatures[repo.onlineRootKey.keyId]!;
    repo.files.set(MetadataFile.root(2), metadataBytes(oneOfThree));
    expect(await deviceFollows(repo)).toBe('2.root.json: too-few-signatures');
    await expect(tufJsFollows(repo)).rejects.toThrow(/root was signed by 1\/2 keys/);
  });

  it("is refused, signed 3 of 3 but not by the old root's keys (TUF 5.3.4), by the ceremony, the device and tuf-js", async () => {
    const repo = await PlatformRepository.create();
    const unsigned = unsignedRoot(repo);
    const copies = holders.map((h, i) => signedCopy(unsigned, h, `${i}.json`));
    const merged = combineSignatures(copies);
    expect(refusalOf(() => verifyRootRotation(repo.trustedRoot, merged))).toMatchObject({ reason: 'too-few-signatures' });
    expect(refusalOf(() => combineSignatures(copies, repo.trustedRoot))).toMatchObject({ reason: 'too-few-signatures' });
    repo.files.set(MetadataFile.root(2), metadataBytes(merged));
    expect(await deviceFollows(repo)).toBe('2.root.json: unknown-key');
    await expect(tufJsFollows(repo)).rejects.toThrow(/root was signed by 0\/1 keys/);
  });

  it('rotates on, offline to offline: a threshold of the old holders and of the new sign version 3', async () => {
    const repo = await PlatformRepository.create();
    const v2 = combineSignatures([signedCopy(unsignedRoot(repo), holders[0]!, 'a'), signedCopy(unsignedRoot(repo), holders[1]!, 'b')]);
    const newcomer = TufSigningKey.generate();
    const v3 = makeOfflineRoot({
      version: 3,
      expires: later(700),
      rootKeys: [holders[0]!.key, holders[1]!.key, newcomer.key],
      threshold: 2,
      online: parseOnlineGrants(v2.toJSON()),
    });
    // Holder 3 leaves and a newcomer joins. Holder 3 may still sign as an old root key (given version 2), and counts toward
    // version 2's threshold only; the newcomer toward version 3's only; holder 1 toward both.
    const leaving = signedCopy(v3, holders[2]!, 'c', v2);
    const joining = signedCopy(v3, newcomer, 'n');
    expect(refusalOf(() => combineSignatures([leaving, joining], v2)).message).toMatch(/threshold of version 2's root keys: .* 1\/2/);
    const rotated = combineSignatures([leaving, joining, signedCopy(v3, holders[0]!, 'a')], v2);
    expect(() => verifyRootRotation(v2, rotated)).not.toThrow();
  });

  it('refuses to merge copies of different roots, a signature that does not verify, and a key that is not a root key', async () => {
    const repo = await PlatformRepository.create();
    const unsigned = unsignedRoot(repo);
    const other = makeOfflineRoot({
      version: 2,
      expires: later(30),
      rootKeys: holders.map((h) => h.key),
      threshold: 2,
      online: parseOnlineGrants(JSON.parse(repo.root1)),
    });
    expect(
      refusalOf(() => combineSignatures([signedCopy(unsigned, holders[0]!, 'a.json'), signedCopy(other, holders[1]!, 'b.json')])),
    ).toMatchObject({ reason: 'different-roots', file: 'b.json' });

    // Holder 1's signature, moved onto a root with another expiry: it does not verify there.
    const forged = parseRootMetadata(ceremonyFileText(other));
    forged.signatures[holders[1]!.keyId] = signedCopy(unsigned, holders[1]!, 'x').metadata.signatures[holders[1]!.keyId]!;
    expect(
      refusalOf(() => combineSignatures([signedCopy(other, holders[0]!, 'a.json'), { file: 'forged.json', metadata: forged }])),
    ).toMatchObject({ reason: 'bad-signature', file: 'forged.json' });

    expect(refusalOf(() => signOfflineRoot(unsigned, TufSigningKey.generate(), NOW))).toMatchObject({ reason: 'unknown-key' });
    // The old root's key signs only when the old root is given, so its signature can be checked.
    const platformCopy = signedCopy(unsigned, repo.onlineRootKey, 'platform.json', repo.trustedRoot);
    expect(refusalOf(() => combineSignatures([signedCopy(unsigned, holders[0]!, 'a.json'), platformCopy]))).toMatchObject({
      reason: 'unknown-key',
      file: 'platform.json',
    });
  });

  it('refuses a bad threshold, a repeated key, an offline key that is also online, and online keys without a role', async () => {
    const repo = await PlatformRepository.create();
    const online = parseOnlineGrants(JSON.parse(repo.root1));
    const spec = { version: 2, expires: later(365), rootKeys: holders.map((h) => h.key), threshold: 2, online };
    expect(refusalOf(() => makeOfflineRoot({ ...spec, threshold: 4 }))).toMatchObject({ reason: 'bad-threshold' });
    expect(refusalOf(() => makeOfflineRoot({ ...spec, threshold: 0 }))).toMatchObject({ reason: 'bad-threshold' });
    expect(refusalOf(() => makeOfflineRoot({ ...spec, rootKeys: [holders[0]!.key, holders[0]!.key] }))).toMatchObject({
      reason: 'bad-keys',
    });
    expect(refusalOf(() => makeOfflineRoot({ ...spec, rootKeys: [...spec.rootKeys, repo.timestamp.key] }))).toMatchObject({
      reason: 'bad-keys',
    });
    const root1 = JSON.parse(repo.root1) as {
      signed: { roles: Record<string, unknown>; keys: Record<string, { keyval: { public: string } }> };
    };
    const noDirector = structuredClone(root1);
    delete noDirector.signed.roles['director'];
    expect(refusalOf(() => parseOnlineGrants(noDirector, 'online.json')).message).toMatch(/^online.json: no director role/);
    const swapped = structuredClone(root1);
    swapped.signed.keys[repo.targets.keyId]!.keyval.public = repo.snapshot.publicHex;
    expect(refusalOf(() => parseOnlineGrants(swapped)).message).toMatch(/is not the hash of its key/);
    expect(refusalOf(() => parseOnlineGrants({ keys: [] })).reason).toBe('malformed');
  });

  it('is refused at import below the platform policy (weak-threshold), the first root and a rotation alike', async () => {
    const repo = await PlatformRepository.create();
    const online = parseOnlineGrants(JSON.parse(repo.root1));
    const policy = { keys: 3, threshold: 2 };
    const first = (rootKeys: TufSigningKey[], threshold: number) => {
      const unsigned = makeOfflineRoot({ version: 1, expires: later(365), rootKeys: rootKeys.map((h) => h.key), threshold, online });
      return combineSignatures(rootKeys.slice(0, threshold).map((h) => signedCopy(unsigned, h, `${h.keyId}.json`)));
    };
    const imported = (root: RootMetadata, trusted?: RootMetadata) => () => verifyImportedRoot(root, { trusted, online, policy, now: NOW });
    // Correctly signed, but by one key of one: accepted before the policy reached imports.
    expect(refusalOf(imported(first([holders[0]!], 1)))).toMatchObject({ reason: 'weak-threshold' });
    expect(refusalOf(imported(first(holders, 1)))).toMatchObject({ reason: 'weak-threshold' });
    expect(refusalOf(imported(first(holders.slice(0, 2), 2)))).toMatchObject({ reason: 'weak-threshold' });
    const root1 = first(holders, 2);
    expect(() => imported(root1)()).not.toThrow();
    // A rotation down to 1-of-3, signed by a threshold of the old keys and its own: refused as well.
    const weaker = makeOfflineRoot({ version: 2, expires: later(365), rootKeys: holders.map((h) => h.key), threshold: 1, online });
    const root2 = combineSignatures(
      [signedCopy(weaker, holders[0]!, 'a.json', root1), signedCopy(weaker, holders[1]!, 'b.json', root1)],
      root1,
    );
    expect(refusalOf(imported(root2, root1))).toMatchObject({ reason: 'weak-threshold' });
  });

  it('refuses to sign a root that has already expired', async () => {
    const repo = await PlatformRepository.create();
    const root = makeOfflineRoot({
      version: 2,
      expires: new Date(NOW.getTime() - 1_000),
      rootKeys: holders.map((h) => h.key),
      threshold: 2,
      online: parseOnlineGrants(JSON.parse(repo.root1)),
    });
    expect(refusalOf(() => signOfflineRoot(root, holders[0]!, NOW))).toMatchObject({ reason: 'expired' });
  });
});
