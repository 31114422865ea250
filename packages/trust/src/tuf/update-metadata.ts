import { Metadata, MetadataKind, type Root, type Snapshot, type Targets, type Timestamp, type TargetFile } from '@tufjs/models';

/** The role that signs each device's own targets (Uptane's director), listed in the tenant's root beside the four TUF roles. */
export const DIRECTOR_ROLE = 'director';

/** Largest metadata file a device reads when nothing bounds it more tightly. */
export const MAX_METADATA_BYTES = {
  root: 64 * 1024,
  timestamp: 16 * 1024,
  snapshot: 256 * 1024,
  targets: 4 * 1024 * 1024,
  director: 256 * 1024,
} as const;

/** Metadata file names, as the platform serves them. */
export const MetadataFile = {
  root: (version: number) => `${version}.root.json`,
  timestamp: 'timestamp.json',
  snapshot: 'snapshot.json',
  targets: 'targets.json',
  director: 'director.json',
} as const;

/** What a target carries beyond TUF's length and hashes. */
export interface ImageTargetCustom {
  readonly component: string;
  readonly version: string;
  readonly securityVersion: number;
  readonly hardware: string;
  readonly measurement: string;
}

export type MetadataRefusal =
  | 'malformed'
  | 'unknown-key'
  | 'bad-signature'
  | 'too-few-signatures'
  | 'rollback'
  | 'expired'
  | 'mix-and-match'
  | 'wrong-device'
  | 'length-or-hash';

/** A refused metadata file: nothing of it is trusted, and the trusted state is unchanged. */
export class MetadataRefusedError extends Error {
  override readonly name = 'MetadataRefusedError';
  constructor(
    readonly reason: MetadataRefusal,
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${reason}: ${detail}`);
  }
}

/** Thrown by a fetch that was offered more than `maxBytes` (endless data): it stops reading there. */
export class TooManyBytesError extends Error {
  override readonly name = 'TooManyBytesError';
  constructor(
    readonly file: string,
    readonly maxBytes: number,
  ) {
    super(`${file}: more than ${maxBytes} bytes`);
  }
}

/**
 * Fetches one metadata file; answers undefined when it does not exist.
 * It reads at most `maxBytes` (more is a `TooManyBytesError`) and keeps its
 * own deadline (slow retrieval).
 */
export type MetadataFetch = (name: string, maxBytes: number) => Promise<Buffer | undefined>;

/** Everything a device trusts, as the JSON it verified (kept across restarts). */
export interface TrustedMetadata {
  readonly root: string;
  readonly timestamp?: string;
  readonly snapshot?: string;
  readonly targets?: string;
  readonly director?: string;
}

/** One image the director says this device should run, checked against the image repository's signed targets. */
export interface DirectedTarget {
  readonly path: string;
  readonly length: number;
  readonly sha256: string;
  readonly custom: ImageTargetCustom;
}

export interface RefreshResult {
  readonly targets: readonly DirectedTarget[];
  /** Fields the director signed beside the targets (the deployment, for one). */
  readonly directorFields: Readonly<Record<string, unknown>>;
  readonly trusted: TrustedMetadata;
}

type AnyMetadata = Metadata<Root | Timestamp | Snapshot | Targets>;

function parse<K extends MetadataKind>(kind: K, file: string, bytes: Buffer): AnyMetadata {
  try {
    const json: unknown = JSON.parse(bytes.toString('utf8'));
    if (typeof json !== 'object' || json === null) throw new Error('not an object');
    const signed = (json as { signed?: { _type?: unknown } }).signed;
    if (signed?._type !== kind) throw new Error(`not ${kind} metadata`);
    return Metadata.fromJSON(kind as MetadataKind.Root, json as never);
  } catch (error) {
    throw new MetadataRefusedError('malformed', file, (error as Error).message);
  }
}

/**
 * Checks `delegated` against the keys and threshold `delegator` gives
 * `role`, and says why it falls short: signed by nobody it knows, a
 * signature that does not verify, or too few valid ones.
 */
function verifySignatures(delegator: Metadata<Root>, role: string, delegated: AnyMetadata, file: string): void {
  try {
    delegator.verifyDelegate(role, delegated);
    return;
  } catch (error) {
    const grant = delegator.signed.roles[role];
    if (grant === undefined) throw new MetadataRefusedError('unknown-key', file, `the root names no ${role} role`);
    const authorised = Object.keys(delegated.signatures).filter((id) => grant.keyIDs.includes(id));
    if (authorised.length === 0) throw new MetadataRefusedError('unknown-key', file, 'no signature by a key the root trusts for it');
    let valid = 0;
    for (const id of authorised) {
      try {
        delegator.signed.keys[id]?.verifySignature(delegated);
        valid++;
      } catch {
        throw new MetadataRefusedError('bad-signature', file, `signature by ${id.slice(0, 12)}… does not verify`);
      }
    }
    throw new MetadataRefusedError('too-few-signatures', file, `${valid} of ${grant.threshold} needed (${(error as Error).message})`);
  }
}

async function bounded(fetch: MetadataFetch, file: string, maxBytes: number): Promise<Buffer | undefined> {
  try {
    const bytes = await fetch(file, maxBytes);
    if (bytes !== undefined && bytes.length > maxBytes) throw new TooManyBytesError(file, maxBytes);
    return bytes;
  } catch (error) {
    if (error instanceof TooManyBytesError)
      throw new MetadataRefusedError('length-or-hash', file, `more than the ${maxBytes} bytes allowed`);
    throw error;
  }
}

function notExpired(metadata: AnyMetadata, file: string, now: Date): void {
  if (metadata.signed.isExpired(now)) throw new MetadataRefusedError('expired', file, `expired at ${metadata.signed.expires}`);
}

/**
 * A device's side of TUF, with Uptane's director: from the root it trusts,
 * walk the root chain (each new root signed by the old and the new keys),
 * then timestamp → snapshot → targets, each signed by its role's keys to
 * threshold, unexpired, never older than what it trusted before, and
 * exactly the version (and hash) the role above names; then the director's
 * targets for this device, which must name this device and list only
 * images the signed targets hold with the same length and hashes. Any
 * failure throws `MetadataRefusedError` and trusts nothing new.
 */
export class UpdateMetadataClient {
  private trusted: TrustedMetadata;

  constructor(
    trusted: TrustedMetadata,
    private readonly deviceId: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.trusted = trusted;
    parse(MetadataKind.Root, 'trusted root', Buffer.from(trusted.root));
  }

  get trustedMetadata(): TrustedMetadata {
    return this.trusted;
  }

  async refresh(fetch: MetadataFetch): Promise<RefreshResult> {
    const now = this.now();
    const root = await this.updateRoot(fetch, now);
    const previous = {
      timestamp: this.trusted.timestamp === undefined ? undefined : (JSON.parse(this.trusted.timestamp) as unknown),
      snapshot: this.trusted.snapshot === undefined ? undefined : (JSON.parse(this.trusted.snapshot) as unknown),
      director: this.trusted.director === undefined ? undefined : (JSON.parse(this.trusted.director) as unknown),
    };

    const timestampBytes = await this.required(fetch, MetadataFile.timestamp, MAX_METADATA_BYTES.timestamp);
    const timestamp = parse(MetadataKind.Timestamp, MetadataFile.timestamp, timestampBytes) as Metadata<Timestamp>;
    verifySignatures(root, MetadataKind.Timestamp, timestamp, MetadataFile.timestamp);
    if (previous.timestamp !== undefined) {
      const before = Metadata.fromJSON(MetadataKind.Timestamp, previous.timestamp as never);
      if (timestamp.signed.version < before.signed.version) {
        throw new MetadataRefusedError(
          'rollback',
          MetadataFile.timestamp,
          `version ${timestamp.signed.version} < ${before.signed.version}`,
        );
      }
      if (timestamp.signed.snapshotMeta.version < before.signed.snapshotMeta.version) {
        throw new MetadataRefusedError('rollback', MetadataFile.timestamp, 'names an older snapshot than before');
      }
    }
    notExpired(timestamp, MetadataFile.timestamp, now);

    const snapshotMeta = timestamp.signed.snapshotMeta;
    const snapshotBytes = await this.required(fetch, MetadataFile.snapshot, snapshotMeta.length ?? MAX_METADATA_BYTES.snapshot);
    this.checkMetaFile(snapshotMeta, snapshotBytes, MetadataFile.snapshot);
    const snapshot = parse(MetadataKind.Snapshot, MetadataFile.snapshot, snapshotBytes) as Metadata<Snapshot>;
    verifySignatures(root, MetadataKind.Snapshot, snapshot, MetadataFile.snapshot);
    if (snapshot.signed.version !== snapshotMeta.version) {
      throw new MetadataRefusedError(
        'mix-and-match',
        MetadataFile.snapshot,
        `version ${snapshot.signed.version}, the timestamp names ${snapshotMeta.version}`,
      );
    }
    if (previous.snapshot !== undefined) {
      const before = Metadata.fromJSON(MetadataKind.Snapshot, previous.snapshot as never);
      for (const [name, meta] of Object.entries(before.signed.meta)) {
        const next = snapshot.signed.meta[name];
        if (next === undefined || next.version < meta.version) {
          throw new MetadataRefusedError('rollback', MetadataFile.snapshot, `${name} would go back from version ${meta.version}`);
        }
      }
    }
    notExpired(snapshot, MetadataFile.snapshot, now);

    const targetsMeta = snapshot.signed.meta[MetadataFile.targets];
    if (targetsMeta === undefined) throw new MetadataRefusedError('mix-and-match', MetadataFile.snapshot, 'names no targets.json');
    const targetsBytes = await this.required(fetch, MetadataFile.targets, targetsMeta.length ?? MAX_METADATA_BYTES.targets);
    this.checkMetaFile(targetsMeta, targetsBytes, MetadataFile.targets);
    const targets = parse(MetadataKind.Targets, MetadataFile.targets, targetsBytes) as Metadata<Targets>;
    verifySignatures(root, MetadataKind.Targets, targets, MetadataFile.targets);
    if (targets.signed.version !== targetsMeta.version) {
      throw new MetadataRefusedError(
        'mix-and-match',
        MetadataFile.targets,
        `version ${targets.signed.version}, the snapshot names ${targetsMeta.version}`,
      );
    }
    notExpired(targets, MetadataFile.targets, now);

    const directorBytes = await this.required(fetch, MetadataFile.director, MAX_METADATA_BYTES.director);
    const director = parse(MetadataKind.Targets, MetadataFile.director, directorBytes) as Metadata<Targets>;
    verifySignatures(root, DIRECTOR_ROLE, director, MetadataFile.director);
    const { device_id: forDevice, _type: _kind, ...directorFields } = director.signed.unrecognizedFields;
    if (forDevice !== this.deviceId) throw new MetadataRefusedError('wrong-device', MetadataFile.director, 'signed for another device');
    if (previous.director !== undefined) {
      const before = Metadata.fromJSON(MetadataKind.Targets, previous.director as never);
      if (director.signed.version < before.signed.version) {
        throw new MetadataRefusedError('rollback', MetadataFile.director, `version ${director.signed.version} < ${before.signed.version}`);
      }
    }
    notExpired(director, MetadataFile.director, now);
    const directed = Object.values(director.signed.targets).map((t) => this.matchImage(t, targets.signed));

    this.trusted = {
      root: JSON.stringify(root.toJSON()),
      timestamp: timestampBytes.toString('utf8'),
      snapshot: snapshotBytes.toString('utf8'),
      targets: targetsBytes.toString('utf8'),
      director: directorBytes.toString('utf8'),
    };
    return { targets: directed, directorFields, trusted: this.trusted };
  }

  private async updateRoot(fetch: MetadataFetch, now: Date): Promise<Metadata<Root>> {
    let root = Metadata.fromJSON(MetadataKind.Root, JSON.parse(this.trusted.root) as never);
    // A bounded walk: a repository cannot keep a device fetching roots for ever.
    for (let step = 0; step < 1024; step++) {
      const version = root.signed.version + 1;
      const file = MetadataFile.root(version);
      const bytes = await bounded(fetch, file, MAX_METADATA_BYTES.root);
      if (bytes === undefined) break;
      const next = parse(MetadataKind.Root, file, bytes) as Metadata<Root>;
      verifySignatures(root, MetadataKind.Root, next, file);
      verifySignatures(next, MetadataKind.Root, next, file);
      if (next.signed.version !== version) {
        throw new MetadataRefusedError('rollback', file, `version ${next.signed.version} where ${version} was asked for`);
      }
      root = next;
      this.trusted = { ...this.trusted, root: JSON.stringify(root.toJSON()) };
    }
    notExpired(root, 'root.json', now);
    return root;
  }

  private async required(fetch: MetadataFetch, file: string, maxBytes: number): Promise<Buffer> {
    const bytes = await bounded(fetch, file, maxBytes);
    if (bytes === undefined) throw new MetadataRefusedError('malformed', file, 'not served');
    return bytes;
  }

  private checkMetaFile(
    meta: { length?: number; hashes?: Record<string, string>; verify(data: Buffer): void },
    bytes: Buffer,
    file: string,
  ): void {
    try {
      meta.verify(bytes);
    } catch (error) {
      throw new MetadataRefusedError('length-or-hash', file, (error as Error).message);
    }
  }

  private matchImage(target: TargetFile, images: Targets): DirectedTarget {
    const image = images.targets[target.path];
    if (image === undefined || image.length !== target.length || image.hashes['sha256'] !== target.hashes['sha256']) {
      throw new MetadataRefusedError('mix-and-match', MetadataFile.director, `${target.path} is not an image the signed targets hold`);
    }
    const custom = image.custom as Partial<ImageTargetCustom>;
    if (
      typeof custom.component !== 'string' ||
      typeof custom.version !== 'string' ||
      typeof custom.securityVersion !== 'number' ||
      typeof custom.hardware !== 'string' ||
      typeof custom.measurement !== 'string'
    ) {
      throw new MetadataRefusedError('malformed', MetadataFile.targets, `${target.path} lacks its image description`);
    }
    return { path: target.path, length: image.length, sha256: image.hashes['sha256']!, custom: custom as ImageTargetCustom };
  }
}
