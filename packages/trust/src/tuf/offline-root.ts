import { createHash } from 'node:crypto';
import { canonicalize } from '@tufjs/canonical-json';
import { Metadata, MetadataKind, Root, type Key } from '@tufjs/models';
import { z } from 'zod';
import { SPEC_VERSION, expiry } from './metadata-signer.js';
import type { TufSigningKey } from './tuf-keys.js';
import { DIRECTOR_ROLE } from './update-metadata.js';

/** How long an offline root lives when the ceremony does not say: a year, so the holders meet at least once a year. */
export const DEFAULT_OFFLINE_ROOT_DAYS = 365;

/** The roles the platform signs online, each of which a tenant's root must list for its devices to update. */
export const ONLINE_ROLES = ['targets', 'snapshot', 'timestamp', DIRECTOR_ROLE] as const;

export type OfflineRootRefusal =
  | 'malformed'
  | 'bad-threshold'
  | 'weak-threshold'
  | 'bad-keys'
  | 'unknown-key'
  | 'bad-signature'
  | 'too-few-signatures'
  | 'different-roots'
  | 'not-the-next-version'
  | 'wrong-online-keys'
  | 'expired';

/** A root, signature file or online-keys file the ceremony refuses; `file` names it when there is one. */
export class OfflineRootError extends Error {
  override readonly name = 'OfflineRootError';
  constructor(
    readonly reason: OfflineRootRefusal,
    message: string,
    readonly file?: string,
    options?: ErrorOptions,
  ) {
    super(file === undefined ? message : `${file}: ${message}`, options);
  }
}

// Strict: a key id is the hash of the whole key object, so a field this parser dropped would change it.
const keySchema = z.strictObject({ keytype: z.string(), scheme: z.string(), keyval: z.strictObject({ public: z.string().min(1) }) });
const roleSchema = z.object({ keyids: z.array(z.string()).min(1), threshold: z.int().min(1) }).loose();
const onlineKeysSchema = z.object({ keys: z.record(z.string(), keySchema), roles: z.record(z.string(), roleSchema) });

type TufKeyJson = z.infer<typeof keySchema>;
type RoleJson = { keyids: string[]; threshold: number };

/** The online roles' keys and thresholds, as a root lists them. */
export interface OnlineGrants {
  readonly keys: Readonly<Record<string, TufKeyJson>>;
  readonly roles: Readonly<Record<(typeof ONLINE_ROLES)[number], RoleJson>>;
}

function keyIdOf(key: TufKeyJson): string {
  return createHash('sha256').update(canonicalize(key)).digest('hex');
}

/**
 * The online roles' keys, from what the platform gives: the tenant's current
 * root metadata (`N.root.json`, whose root role is ignored) or its `signed`
 * part, or a bare `{keys, roles}`. Every online role must be there, each of
 * its key ids must be listed and must be the hash of its key.
 */
export function parseOnlineGrants(json: unknown, file?: string): OnlineGrants {
  const body = typeof json === 'object' && json !== null && 'signed' in json ? json.signed : json;
  const parsed = onlineKeysSchema.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ');
    throw new OfflineRootError('malformed', `not a root or {keys, roles}: ${issues}`, file);
  }
  const keys: Record<string, TufKeyJson> = {};
  const roles = {} as Record<(typeof ONLINE_ROLES)[number], RoleJson>;
  for (const name of ONLINE_ROLES) {
    const role = parsed.data.roles[name];
    if (role === undefined)
      throw new OfflineRootError('malformed', `no ${name} role (the platform signs ${ONLINE_ROLES.join(', ')})`, file);
    if (role.threshold > role.keyids.length) {
      throw new OfflineRootError('bad-threshold', `${name} needs ${role.threshold} of ${role.keyids.length} keys`, file);
    }
    for (const id of role.keyids) {
      const key = parsed.data.keys[id];
      if (key === undefined) throw new OfflineRootError('malformed', `${name} names key ${id}, which is not in keys`, file);
      // A key id that is not its key's hash would let one key count twice toward a threshold on some clients.
      if (keyIdOf(key) !== id) throw new OfflineRootError('malformed', `key ${id} is not the hash of its key`, file);
      keys[id] = key;
    }
    roles[name] = { keyids: [...role.keyids], threshold: role.threshold };
  }
  return { keys, roles };
}

export interface OfflineRootSpec {
  /** The new root's version: one above the root devices trust now. */
  readonly version: number;
  readonly expires: Date;
  /** The offline root keys, one per holder. */
  readonly rootKeys: readonly Key[];
  /** How many of them must sign this root's successor (and this root itself). */
  readonly threshold: number;
  readonly online: OnlineGrants;
}

/**
 * An unsigned root (TUF §4.3) whose root role is `rootKeys` with
 * `threshold`, and whose online roles are as the platform gives them. The
 * offline keys must be distinct and none of them an online key: a root key
 * that also signs online is not offline.
 */
export function makeOfflineRoot(spec: OfflineRootSpec): Metadata<Root> {
  if (!Number.isSafeInteger(spec.version) || spec.version < 1) {
    throw new OfflineRootError('not-the-next-version', `version must be a whole number from 1, not ${spec.version}`);
  }
  const ids = spec.rootKeys.map((k) => k.keyID);
  if (new Set(ids).size !== ids.length) throw new OfflineRootError('bad-keys', 'the same root key is listed twice');
  if (!(Number.isSafeInteger(spec.threshold) && spec.threshold >= 1 && spec.threshold <= ids.length)) {
    throw new OfflineRootError('bad-threshold', `threshold must be 1..${ids.length} (the number of root keys), not ${spec.threshold}`);
  }
  const online = ids.find((id) => spec.online.keys[id] !== undefined);
  if (online !== undefined) throw new OfflineRootError('bad-keys', `root key ${online} is also an online key`);
  const keys: Record<string, unknown> = { ...spec.online.keys };
  for (const key of spec.rootKeys) keys[key.keyID] = key.toJSON();
  const root = Root.fromJSON({
    _type: MetadataKind.Root,
    spec_version: SPEC_VERSION,
    version: spec.version,
    expires: expiry(spec.expires),
    consistent_snapshot: false,
    roles: { root: { keyids: ids, threshold: spec.threshold }, ...spec.online.roles },
    keys,
  } as never);
  return new Metadata(root);
}

/** A root metadata document (unsigned, partly or fully signed) from its JSON text. */
export function parseRootMetadata(text: string, file?: string): Metadata<Root> {
  try {
    const json = JSON.parse(text) as { signed?: { _type?: unknown } };
    if (json?.signed?._type !== MetadataKind.Root) throw new Error('not root metadata');
    return Metadata.fromJSON(MetadataKind.Root, json as never);
  } catch (error) {
    throw new OfflineRootError('malformed', (error as Error).message, file, { cause: error });
  }
}

/** Root metadata as the ceremony passes it around (callers need not depend on @tufjs/models). */
export type RootMetadata = Metadata<Root>;

/** What a holder reads before and after signing: the version, the expiry, who holds each role, who has signed. */
export interface RootSummary {
  readonly version: number;
  readonly expires: string;
  readonly roles: Readonly<Record<string, { readonly keyids: readonly string[]; readonly threshold: number }>>;
  readonly signatures: readonly string[];
}

export function summarizeRoot(root: Metadata<Root>): RootSummary {
  const roles = Object.fromEntries(
    Object.entries(root.signed.roles).map(([name, role]) => [name, { keyids: [...role.keyIDs], threshold: role.threshold }]),
  );
  return { version: root.signed.version, expires: root.signed.expires, roles, signatures: Object.keys(root.signatures) };
}

/** The text of a ceremony file: indented, so the holders can read what they sign. */
export function ceremonyFileText(metadata: Metadata<Root>): string {
  return `${JSON.stringify(metadata.toJSON(), null, 2)}\n`;
}

/** Keys that may sign `root`: its own root keys, and the previous root's (which a rotation needs to a threshold too). */
function rootSigners(root: Metadata<Root>, previous?: Metadata<Root>): Map<string, Key> {
  const signers = new Map<string, Key>();
  for (const source of previous === undefined ? [root] : [root, previous]) {
    for (const id of source.signed.roles[MetadataKind.Root]?.keyIDs ?? []) {
      const key = source.signed.keys[id];
      if (key !== undefined) signers.set(id, key);
    }
  }
  return signers;
}

/**
 * Adds `signer`'s signature to `root` (a new object; `root` is unchanged).
 * The key must be one of the root's own root keys, or of `previous`'s; an
 * expired root is refused, since no device would accept it.
 */
export function signOfflineRoot(root: Metadata<Root>, signer: TufSigningKey, now: Date, previous?: Metadata<Root>): Metadata<Root> {
  if (root.signed.isExpired(now)) throw new OfflineRootError('expired', `the root expired at ${root.signed.expires}`);
  if (previous !== undefined && root.signed.version !== previous.signed.version + 1) {
    // Caught at the signing table, not after every holder has signed a root no device would step to.
    throw new OfflineRootError('not-the-next-version', `version ${root.signed.version} does not follow ${previous.signed.version}`);
  }
  if (!rootSigners(root, previous).has(signer.keyId)) {
    throw new OfflineRootError(
      'unknown-key',
      `key ${signer.keyId} is not a root key of version ${root.signed.version}${previous === undefined ? '' : ` or ${previous.signed.version}`}`,
    );
  }
  const copy = Metadata.fromJSON(MetadataKind.Root, root.toJSON());
  copy.sign(signer.signer, true);
  return copy;
}

function sameSigned(a: Metadata<Root>, b: Metadata<Root>): boolean {
  return canonicalize(a.signed.toJSON()) === canonicalize(b.signed.toJSON());
}

/**
 * TUF §5.3.4 for `next` after `trusted`: signed by a threshold of the
 * trusted root's root keys, and by a threshold of its own; exactly one
 * version above. A key that signs twice counts once.
 */
export function verifyRootRotation(trusted: Metadata<Root>, next: Metadata<Root>): void {
  if (next.signed.version !== trusted.signed.version + 1) {
    throw new OfflineRootError('not-the-next-version', `version ${next.signed.version} does not follow ${trusted.signed.version}`);
  }
  verifyRootThreshold(trusted, next, `version ${trusted.signed.version}'s`);
  verifyRootThreshold(next, next, 'its own');
}

function verifyRootThreshold(delegator: Metadata<Root>, root: Metadata<Root>, whose: string): void {
  try {
    delegator.verifyDelegate(MetadataKind.Root, root);
  } catch (error) {
    throw new OfflineRootError(
      'too-few-signatures',
      `not signed by a threshold of ${whose} root keys: ${(error as Error).message}`,
      undefined,
      {
        cause: error,
      },
    );
  }
}

export interface SignedCopy {
  readonly file: string;
  readonly metadata: Metadata<Root>;
}

/**
 * Merges signatures that holders made on separate machines, each on their
 * own copy of the same root: the copies must sign the same bytes, every
 * signature must verify against a root key (of this root, or of `previous`),
 * and the result must meet the root's own threshold; with `previous`, the
 * whole §5.3.4 rotation is checked too. Without `previous` the old root's
 * signatures are left for whoever holds its keys (the platform, when its
 * current root is online) to add.
 */
export function combineSignatures(copies: readonly SignedCopy[], previous?: Metadata<Root>): Metadata<Root> {
  const [first] = copies;
  if (first === undefined) throw new OfflineRootError('malformed', 'no signed copies to merge');
  const signers = rootSigners(first.metadata, previous);
  const merged = Metadata.fromJSON(MetadataKind.Root, { ...first.metadata.toJSON(), signatures: [] });
  for (const copy of copies) {
    if (!sameSigned(first.metadata, copy.metadata)) {
      throw new OfflineRootError('different-roots', `signs another root than ${first.file}`, copy.file);
    }
    for (const [id, signature] of Object.entries(copy.metadata.signatures)) {
      const key = signers.get(id);
      if (key === undefined) {
        throw new OfflineRootError(
          'unknown-key',
          `signature by ${id}, not a root key${previous === undefined ? ' of this root (an old root key? pass the previous root)' : ''}`,
          copy.file,
        );
      }
      try {
        key.verifySignature(copy.metadata);
      } catch (error) {
        throw new OfflineRootError('bad-signature', `the signature by ${id} does not verify`, copy.file, { cause: error });
      }
      merged.signatures[id] = signature;
    }
  }
  if (previous === undefined) verifyRootThreshold(merged, merged, 'its own');
  else verifyRootRotation(previous, merged);
  return merged;
}

/** The least a tenant's root must demand: how many root keys it lists, and how many of them must sign its successor. */
export interface RootPolicy {
  readonly keys: number;
  readonly threshold: number;
}

/**
 * What the platform holds when it is offered a root: the root devices trust now (none before the first), its online
 * keys, and its root policy (the floor an offline root may not go below, as the roots it makes itself do not).
 */
export interface RootImportContext {
  readonly trusted: Metadata<Root> | undefined;
  readonly online: OnlineGrants;
  readonly policy: RootPolicy;
  readonly now: Date;
}

/**
 * A root weaker than the platform's policy is refused even when correctly signed: one accepted 1-of-1 root would
 * let every later rotation be signed by one key too (each is checked against its predecessor's threshold), so the
 * floor must hold at every import, the first included. A threshold its own keys cannot meet could never be rotated.
 */
function checkRootPolicy(root: Metadata<Root>, policy: RootPolicy): void {
  const role = root.signed.roles[MetadataKind.Root];
  const keys = role?.keyIDs.length ?? 0;
  const threshold = role?.threshold ?? 0;
  if (threshold > keys) throw new OfflineRootError('bad-threshold', `the root role needs ${threshold} of ${keys} keys`);
  if (threshold < policy.threshold || keys < policy.keys) {
    throw new OfflineRootError(
      'weak-threshold',
      `the root role is ${threshold}-of-${keys}; this platform requires at least ${policy.threshold} signatures of at least ${policy.keys} root keys (ROOT_THRESHOLD, ROOT_KEYS)`,
    );
  }
}

/**
 * The platform's check of an offline-signed root before it serves it: the
 * first (version 1) signed by a threshold of its own root keys; any later
 * one the TUF §5.3.4 step from the trusted root; unexpired; listing exactly
 * the root role and the online roles, the online roles being exactly the
 * platform's keys with threshold 1 (a root naming another online key would
 * leave devices trusting signatures the platform cannot make, or someone
 * else's); its root role no weaker than `policy`. Throws OfflineRootError
 * saying which check failed.
 */
export function verifyImportedRoot(root: Metadata<Root>, context: RootImportContext): void {
  if (context.trusted === undefined) {
    if (root.signed.version !== 1) {
      throw new OfflineRootError('not-the-next-version', `the tenant has no root yet: the first is version 1, not ${root.signed.version}`);
    }
    verifyRootThreshold(root, root, 'its own');
  } else {
    verifyRootRotation(context.trusted, root);
  }
  checkRootPolicy(root, context.policy);
  if (root.signed.isExpired(context.now)) throw new OfflineRootError('expired', `the root expired at ${root.signed.expires}`);
  const roles = Object.keys(root.signed.roles).sort();
  const expected = [MetadataKind.Root as string, ...ONLINE_ROLES].sort();
  if (roles.join() !== expected.join()) {
    throw new OfflineRootError('wrong-online-keys', `the root lists roles ${roles.join(', ')}; the platform serves ${expected.join(', ')}`);
  }
  const offered = parseOnlineGrants(root.toJSON());
  if (canonicalize(offered) !== canonicalize(context.online)) {
    throw new OfflineRootError(
      'wrong-online-keys',
      `its online roles are not the platform's keys: ${ONLINE_ROLES.map((r) => `${r} ${offered.roles[r].keyids.map((id) => id.slice(0, 12)).join(',')}`).join('; ')} (ask the platform for its online keys and make the root again)`,
    );
  }
  const online = new Set(Object.keys(context.online.keys));
  const rootKeyIds = root.signed.roles[MetadataKind.Root]?.keyIDs ?? [];
  const shared = rootKeyIds.find((id) => online.has(id));
  if (shared !== undefined) throw new OfflineRootError('bad-keys', `root key ${shared} is also an online key`);
  const listed = new Set([...online, ...rootKeyIds]);
  const stray = Object.keys(root.signed.keys).find((id) => !listed.has(id));
  if (stray !== undefined) throw new OfflineRootError('bad-keys', `key ${stray} is listed but no role uses it`);
}
