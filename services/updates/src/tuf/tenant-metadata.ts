import { createHash } from 'node:crypto';
import {
  DIRECTOR_ROLE,
  MetadataFile,
  TufSigningKey,
  metadataBytes,
  signDirectorTargets,
  signRoot,
  signSnapshot,
  signTargets,
  signTimestamp,
  type ImageTarget,
  type KeyVault,
  type RoleGrants,
} from '@rampart/trust';
import { ErrorCode } from '@rampart/contracts';
import { DomainError } from '@rampart/service-kit';
import type { ImageRow, ImagesRepository } from '../images/images.repository.js';
import type { Transactions, Tx } from '../persistence/transactions.js';
import type { OnlineRole, SigningRole, TufMetadataRepository } from './tuf-metadata.repository.js';

/** No metadata file by that name: not a TUF role's file, or a root version the tenant never had. */
export class MetadataFileNotFoundError extends DomainError {
  override readonly name = 'MetadataFileNotFoundError';
  readonly code = ErrorCode.notFound;
}

/** How long each role's metadata lives; the online roles are re-signed before they expire. */
export interface MetadataLifetimes {
  readonly rootDays: number;
  readonly targetsDays: number;
  readonly snapshotDays: number;
  readonly timestampHours: number;
  readonly directorHours: number;
}

export interface RootPolicy {
  /** Root keys a tenant's root lists, and how many must sign a new root. */
  readonly keys: number;
  readonly threshold: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export function imageTarget(image: ImageRow): ImageTarget {
  return {
    path: `images/${image.sha256}`,
    length: image.size,
    sha256: image.sha256,
    custom: {
      component: image.component,
      version: image.version,
      securityVersion: image.securityVersion,
      hardware: image.hardware,
      measurement: image.measurement,
    },
  };
}

/**
 * Each tenant's TUF repository in PostgreSQL: its signing keys (sealed
 * under the key-encryption key, bound to tenant and role), every version of
 * root, and the latest targets, snapshot and timestamp; plus the director's
 * targets for each device. Every change takes the tenant's advisory lock,
 * so two replicas never sign two different metadata of the same version.
 */
export class TenantMetadata {
  constructor(
    private readonly transactions: Transactions,
    private readonly repository: TufMetadataRepository,
    private readonly vault: KeyVault,
    private readonly images: ImagesRepository,
    private readonly lifetimes: MetadataLifetimes,
    private readonly rootPolicy: RootPolicy,
  ) {
    if (!(rootPolicy.threshold >= 1 && rootPolicy.threshold <= rootPolicy.keys)) throw new RangeError('root threshold must be 1..keys');
  }

  /** A tenant's repository exists once this resolves: keys, root version 1, and the first targets, snapshot and timestamp. */
  async ensure(tenantId: string): Promise<void> {
    if ((await this.repository.latestVersion(tenantId, 'root')) !== undefined) return;
    await this.transactions.run(async (tx) => {
      await this.repository.lockTenant(tenantId, tx);
      if ((await this.repository.latestVersion(tenantId, 'root', tx)) !== undefined) return;
      const rootKeys = Array.from({ length: this.rootPolicy.keys }, () => TufSigningKey.generate());
      for (const key of rootKeys) await this.saveKey(tx, tenantId, 'root', key);
      for (const role of ['targets', 'snapshot', 'timestamp', DIRECTOR_ROLE] as const)
        await this.saveKey(tx, tenantId, role, TufSigningKey.generate());
      const root = signRoot(1, new Date(Date.now() + this.lifetimes.rootDays * DAY), await this.grants(tx, tenantId, rootKeys), rootKeys);
      await this.repository.saveMetadata(tenantId, 'root', 1, metadataBytes(root), new Date(root.signed.expires), tx);
      await this.publishLocked(tx, tenantId);
    });
  }

  /** Signs new targets (the tenant's released images), snapshot and timestamp: after a release or a revocation. */
  async publish(tenantId: string, tx: Tx): Promise<void> {
    await this.repository.lockTenant(tenantId, tx);
    await this.publishLocked(tx, tenantId);
  }

  /**
   * Re-signs what is about to expire: the timestamp once half its life is
   * gone, targets and snapshot within a day of expiry (a new timestamp
   * follows each). Returns the tenants whose metadata changed.
   */
  async refreshExpiring(now = Date.now()): Promise<string[]> {
    const due = await this.repository.tenantsExpiring(new Date(now + (this.lifetimes.timestampHours * HOUR) / 2), new Date(now + DAY));
    for (const tenantId of due) {
      await this.transactions.run((tx) => this.publish(tenantId, tx));
    }
    return due;
  }

  /**
   * Root rotation: fresh root keys; root version N+1 lists them and is signed
   * by the old root keys and the new, so a device that trusts version N can
   * verify the step. The old root keys are retired.
   */
  async rotateRoot(tenantId: string): Promise<number> {
    await this.ensure(tenantId);
    return this.transactions.run(async (tx) => {
      await this.repository.lockTenant(tenantId, tx);
      const oldKeys = await this.keys(tx, tenantId, 'root');
      const newKeys = Array.from({ length: this.rootPolicy.keys }, () => TufSigningKey.generate());
      await this.repository.retireRootKeys(tenantId, tx);
      for (const key of newKeys) await this.saveKey(tx, tenantId, 'root', key);
      const version = ((await this.repository.latestVersion(tenantId, 'root', tx)) ?? 0) + 1;
      const root = signRoot(version, new Date(Date.now() + this.lifetimes.rootDays * DAY), await this.grants(tx, tenantId, newKeys), [
        ...oldKeys,
        ...newKeys,
      ]);
      await this.repository.saveMetadata(tenantId, 'root', version, metadataBytes(root), new Date(root.signed.expires), tx);
      return version;
    });
  }

  /**
   * The tenant's newest root, exactly as served: what a device is given
   * when it is claimed and pins (TUF §5.2: the first root is provisioned,
   * never fetched). Makes the repository first if the tenant has none yet.
   */
  async currentRoot(tenantId: string): Promise<string> {
    await this.ensure(tenantId);
    const root = await this.repository.newestRoot(tenantId);
    if (root === undefined) throw new Error(`tenant ${tenantId} has no root`);
    return root;
  }

  /**
   * A metadata file as an operator reads it: parsed, and made first if the tenant has no repository yet;
   * MetadataFileNotFoundError when there is no such file.
   */
  async document(tenantId: string, name: string): Promise<unknown> {
    await this.ensure(tenantId);
    const body = await this.file(tenantId, name);
    if (body === undefined) throw new MetadataFileNotFoundError(`no ${name}`);
    return JSON.parse(body.toString('utf8')) as unknown;
  }

  /** A metadata file as a device asks for it, or undefined. */
  async file(tenantId: string, name: string): Promise<Buffer | undefined> {
    const rootVersion = /^([1-9][0-9]{0,8})\.root\.json$/.exec(name)?.[1];
    const role =
      rootVersion !== undefined
        ? 'root'
        : ({ [MetadataFile.timestamp]: 'timestamp', [MetadataFile.snapshot]: 'snapshot', [MetadataFile.targets]: 'targets' } as const)[
            name
          ];
    if (role === undefined) return undefined;
    const body = await this.repository.body(tenantId, role, rootVersion === undefined ? undefined : Number(rootVersion));
    return body === undefined ? undefined : Buffer.from(body);
  }

  /**
   * The director's targets for one device — what it should run, and
   * `fields` (the deployment) — signed under a version one above the last
   * this device was given. The same answer again, with more than half its
   * life left, is the stored one (a device polling does not sign anew).
   */
  async direct(
    tenantId: string,
    deviceId: string,
    images: readonly ImageRow[],
    fields: Readonly<Record<string, string | number | boolean | null>>,
  ): Promise<Buffer> {
    await this.ensure(tenantId);
    const targets = images.map(imageTarget);
    const digest = createHash('sha256').update(JSON.stringify({ tenantId, targets, fields })).digest('hex');
    const lifetime = this.lifetimes.directorHours * HOUR;
    return this.transactions.run(async (tx) => {
      const last = await this.repository.directorTargetsForUpdate(deviceId, tx);
      if (last !== undefined && last.digest === digest && new Date(last.expires_at).getTime() - Date.now() > lifetime / 2) {
        return Buffer.from(last.body);
      }
      const [signer] = await this.keys(tx, tenantId, DIRECTOR_ROLE);
      const version = (last?.version ?? 0) + 1;
      const expires = new Date(Date.now() + lifetime);
      const body = metadataBytes(signDirectorTargets(version, expires, deviceId, targets, fields, signer!));
      await this.repository.saveDirectorTargets({ deviceId, tenantId, version, digest, body, expires }, tx);
      return body;
    });
  }

  private async publishLocked(tx: Tx, tenantId: string): Promise<void> {
    const released = await this.images.released(tenantId, tx);
    const next = async (role: OnlineRole) => ((await this.repository.latestVersion(tenantId, role, tx)) ?? 0) + 1;
    const [targetsKey] = await this.keys(tx, tenantId, 'targets');
    const [snapshotKey] = await this.keys(tx, tenantId, 'snapshot');
    const [timestampKey] = await this.keys(tx, tenantId, 'timestamp');
    const now = Date.now();
    const targetsVersion = await next('targets');
    const targets = metadataBytes(
      signTargets(targetsVersion, new Date(now + this.lifetimes.targetsDays * DAY), released.map(imageTarget), targetsKey!),
    );
    const snapshotVersion = await next('snapshot');
    const snapshot = metadataBytes(
      signSnapshot(snapshotVersion, new Date(now + this.lifetimes.snapshotDays * DAY), targets, targetsVersion, snapshotKey!),
    );
    const timestampVersion = await next('timestamp');
    const timestampExpires = new Date(now + this.lifetimes.timestampHours * HOUR);
    const timestamp = metadataBytes(signTimestamp(timestampVersion, timestampExpires, snapshot, snapshotVersion, timestampKey!));
    await this.repository.saveMetadata(tenantId, 'targets', targetsVersion, targets, new Date(now + this.lifetimes.targetsDays * DAY), tx);
    await this.repository.saveMetadata(
      tenantId,
      'snapshot',
      snapshotVersion,
      snapshot,
      new Date(now + this.lifetimes.snapshotDays * DAY),
      tx,
    );
    await this.repository.saveMetadata(tenantId, 'timestamp', timestampVersion, timestamp, timestampExpires, tx);
    // Only the latest online metadata is ever served; older versions need not be kept.
    await this.repository.pruneOnline(tenantId, timestampVersion - 10, tx);
  }

  private async grants(tx: Tx, tenantId: string, rootKeys: readonly TufSigningKey[]): Promise<RoleGrants> {
    const online = async (role: OnlineRole) => (await this.keys(tx, tenantId, role)).map((k) => k.key);
    return {
      root: { keys: rootKeys.map((k) => k.key), threshold: this.rootPolicy.threshold },
      targets: await online('targets'),
      snapshot: await online('snapshot'),
      timestamp: await online('timestamp'),
      director: await online(DIRECTOR_ROLE),
    };
  }

  private async saveKey(tx: Tx, tenantId: string, role: SigningRole, key: TufSigningKey): Promise<void> {
    await this.repository.saveKey(
      { keyId: key.keyId, publicHex: key.publicHex, sealed: this.vault.seal(key.exportPrivatePem(), `${tenantId}/${role}`) },
      tenantId,
      role,
      tx,
    );
  }

  private async keys(tx: Tx, tenantId: string, role: SigningRole): Promise<TufSigningKey[]> {
    const sealed = await this.repository.sealedKeys(tenantId, role, tx);
    if (sealed.length === 0) throw new Error(`tenant ${tenantId} has no ${role} key`);
    return sealed.map((s) => TufSigningKey.fromPrivatePem(this.vault.open(s, `${tenantId}/${role}`)));
  }
}
