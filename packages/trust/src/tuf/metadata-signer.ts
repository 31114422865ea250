import { createHash } from 'node:crypto';
import { canonicalize } from '@tufjs/canonical-json';
import { MetaFile, Metadata, Root, Snapshot, TargetFile, Targets, Timestamp, type Key } from '@tufjs/models';
import type { TufSigner } from './tuf-signer.js';
import { DIRECTOR_ROLE, MetadataFile, type ImageTargetCustom } from './update-metadata.js';

/** The TUF specification version the metadata Rampart signs follows. */
export const SPEC_VERSION = '1.0.31';

/** An image as signed targets list it. */
export interface ImageTarget {
  readonly path: string;
  readonly length: number;
  readonly sha256: string;
  readonly custom: ImageTargetCustom;
}

/** Which public keys each role has, and how many of them must sign. */
export interface RoleGrants {
  readonly root: { readonly keys: readonly Key[]; readonly threshold: number };
  readonly targets: readonly Key[];
  readonly snapshot: readonly Key[];
  readonly timestamp: readonly Key[];
  readonly director: readonly Key[];
}

export function expiry(at: Date): string {
  // TUF wants whole seconds in UTC.
  return `${at.toISOString().slice(0, 19)}Z`;
}

/**
 * `body` signed by each of `signers` over its canonical JSON (the bytes
 * `Metadata.sign` would hand a synchronous signer): a signer may be a token
 * that answers later, so the signatures are gathered, then attached.
 */
async function signed<T extends Root | Targets | Snapshot | Timestamp>(body: T, signers: readonly TufSigner[]): Promise<Metadata<T>> {
  const metadata = new Metadata(body);
  const bytes = Buffer.from(canonicalize(body.toJSON()));
  for (const signature of await Promise.all(signers.map((s) => s.sign(bytes)))) metadata.signatures[signature.keyID] = signature;
  return metadata;
}

/** The bytes a repository serves for a piece of metadata (and hashes in the role above it). */
export function metadataBytes(metadata: Metadata<Root | Targets | Snapshot | Timestamp>): Buffer {
  return Buffer.from(JSON.stringify(metadata.toJSON()));
}

function metaFileOf(bytes: Buffer, version: number): MetaFile {
  return new MetaFile({ version, length: bytes.length, hashes: { sha256: createHash('sha256').update(bytes).digest('hex') } });
}

function targetFile(target: ImageTarget): TargetFile {
  return new TargetFile({
    path: target.path,
    length: target.length,
    hashes: { sha256: target.sha256 },
    unrecognizedFields: { custom: { ...target.custom } },
  });
}

/** Root: the keys of every role (the four of TUF and the director) and the root threshold; signed by `signers`. */
export function signRoot(version: number, expires: Date, grants: RoleGrants, signers: readonly TufSigner[]): Promise<Metadata<Root>> {
  const keys: Record<string, unknown> = {};
  const role = (roleKeys: readonly Key[], threshold = 1) => {
    for (const key of roleKeys) keys[key.keyID] = key.toJSON();
    return { keyids: roleKeys.map((k) => k.keyID), threshold };
  };
  // @tufjs/models exports no Role class; a root is made from its JSON form, which it validates.
  const root = Root.fromJSON({
    _type: 'root',
    spec_version: SPEC_VERSION,
    version,
    expires: expiry(expires),
    consistent_snapshot: false,
    roles: {
      root: role(grants.root.keys, grants.root.threshold),
      targets: role(grants.targets),
      snapshot: role(grants.snapshot),
      timestamp: role(grants.timestamp),
      [DIRECTOR_ROLE]: role(grants.director),
    },
    keys,
  } as never);
  return signed(root, signers);
}

/** The image repository's targets: every image the tenant has released. */
export function signTargets(version: number, expires: Date, images: readonly ImageTarget[], signer: TufSigner): Promise<Metadata<Targets>> {
  const targets = new Targets({ version, specVersion: SPEC_VERSION, expires: expiry(expires) });
  for (const image of images) targets.addTarget(targetFile(image));
  return signed(targets, [signer]);
}

export function signSnapshot(
  version: number,
  expires: Date,
  targetsBytes: Buffer,
  targetsVersion: number,
  signer: TufSigner,
): Promise<Metadata<Snapshot>> {
  return signed(
    new Snapshot({
      version,
      specVersion: SPEC_VERSION,
      expires: expiry(expires),
      meta: { [MetadataFile.targets]: metaFileOf(targetsBytes, targetsVersion) },
    }),
    [signer],
  );
}

export function signTimestamp(
  version: number,
  expires: Date,
  snapshotBytes: Buffer,
  snapshotVersion: number,
  signer: TufSigner,
): Promise<Metadata<Timestamp>> {
  return signed(
    new Timestamp({
      version,
      specVersion: SPEC_VERSION,
      expires: expiry(expires),
      snapshotMeta: metaFileOf(snapshotBytes, snapshotVersion),
    }),
    [signer],
  );
}

/** The director's targets for one device: what it should run, bound to its id, with `fields` (the deployment) signed beside. */
export function signDirectorTargets(
  version: number,
  expires: Date,
  deviceId: string,
  images: readonly ImageTarget[],
  fields: Readonly<Record<string, string | number | boolean | null>>,
  signer: TufSigner,
): Promise<Metadata<Targets>> {
  const targets = new Targets({
    version,
    specVersion: SPEC_VERSION,
    expires: expiry(expires),
    unrecognizedFields: { ...fields, device_id: deviceId },
  });
  for (const image of images) targets.addTarget(targetFile(image));
  return signed(targets, [signer]);
}
