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
import type { DataSource, EntityManager } from 'typeorm';
import type { ImageRow, ImagesRepository } from '../images/images.repository.js';

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

type OnlineRole = 'targets' | 'snapshot' | 'timestamp' | typeof DIRECTOR_ROLE;
type SigningRole = 'root' | OnlineRole;

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
    private readonly dataSource: DataSource,
    private readonly vault: KeyVault,
    private readonly images: ImagesRepository,
    private readonly lifetimes: MetadataLifetimes,
    private readonly rootPolicy: RootPolicy,
  ) {
    if (!(rootPolicy.threshold >= 1 && rootPolicy.threshold <= rootPolicy.keys)) throw new RangeError('root threshold must be 1..keys');
  }

  /** A tenant's repository exists once this resolves: keys, root version 1, and the first targets, snapshot and timestamp. */
  async ensure(tenantId: string): Promise<void> {
    if ((await this.latestVersion(this.dataSource, tenantId, 'root')) !== undefined) return;
    await this.dataSource.transaction(async (tx) => {
      await this.lock(tx, tenantId);
      if ((await this.latestVersion(tx, tenantId, 'root')) !== undefined) return;
      const rootKeys = Array.from({ length: this.rootPolicy.keys }, () => TufSigningKey.generate());
      for (const key of rootKeys) await this.saveKey(tx, tenantId, 'root', key);
      for (const role of ['targets', 'snapshot', 'timestamp', DIRECTOR_ROLE] as const)
        await this.saveKey(tx, tenantId, role, TufSigningKey.generate());
      const root = signRoot(1, new Date(Date.now() + this.lifetimes.rootDays * DAY), await this.grants(tx, tenantId, rootKeys), rootKeys);
      await this.saveMetadata(tx, tenantId, 'root', 1, metadataBytes(root), new Date(root.signed.expires));
      await this.publishLocked(tx, tenantId);
    });
  }

  /** Signs new targets (the tenant's released images), snapshot and timestamp: after a release or a revocation. */
  async publish(tenantId: string, tx: EntityManager): Promise<void> {
    await this.lock(tx, tenantId);
    await this.publishLocked(tx, tenantId);
  }

  /**
   * Re-signs what is about to expire: the timestamp once half its life is
   * gone, targets and snapshot within a day of expiry (a new timestamp
   * follows each). Returns the tenants whose metadata changed.
   */
  async refreshExpiring(now = Date.now()): Promise<string[]> {
    const due: Array<{ tenant_id: string }> = await this.dataSource.query(
      `SELECT DISTINCT m.tenant_id FROM updates.metadata m
        WHERE m.version = (SELECT max(version) FROM updates.metadata x WHERE x.tenant_id = m.tenant_id AND x.role = m.role)
          AND ((m.role = 'timestamp' AND m.expires_at < $1) OR (m.role IN ('targets', 'snapshot') AND m.expires_at < $2))`,
      [new Date(now + (this.lifetimes.timestampHours * HOUR) / 2), new Date(now + DAY)],
    );
    for (const { tenant_id: tenantId } of due) {
      await this.dataSource.transaction((tx) => this.publish(tenantId, tx));
    }
    return due.map((d) => d.tenant_id);
  }

  /**
   * Root rotation: fresh root keys; root version N+1 lists them and is signed
   * by the old root keys and the new, so a device that trusts version N can
   * verify the step. The old root keys are retired.
   */
  async rotateRoot(tenantId: string): Promise<number> {
    await this.ensure(tenantId);
    return this.dataSource.transaction(async (tx) => {
      await this.lock(tx, tenantId);
      const oldKeys = await this.keys(tx, tenantId, 'root');
      const newKeys = Array.from({ length: this.rootPolicy.keys }, () => TufSigningKey.generate());
      await tx.query(`UPDATE updates.signing_keys SET retired_at = now() WHERE tenant_id = $1 AND role = 'root' AND retired_at IS NULL`, [
        tenantId,
      ]);
      for (const key of newKeys) await this.saveKey(tx, tenantId, 'root', key);
      const version = ((await this.latestVersion(tx, tenantId, 'root')) ?? 0) + 1;
      const root = signRoot(version, new Date(Date.now() + this.lifetimes.rootDays * DAY), await this.grants(tx, tenantId, newKeys), [
        ...oldKeys,
        ...newKeys,
      ]);
      await this.saveMetadata(tx, tenantId, 'root', version, metadataBytes(root), new Date(root.signed.expires));
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
    const rows: Array<{ body: string }> = await this.dataSource.query(
      `SELECT body FROM updates.metadata WHERE tenant_id = $1 AND role = 'root' ORDER BY version DESC LIMIT 1`,
      [tenantId],
    );
    if (rows[0] === undefined) throw new Error(`tenant ${tenantId} has no root`);
    return rows[0].body;
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
    const rows: Array<{ body: string }> = await this.dataSource.query(
      rootVersion === undefined
        ? `SELECT body FROM updates.metadata WHERE tenant_id = $1 AND role = $2 ORDER BY version DESC LIMIT 1`
        : `SELECT body FROM updates.metadata WHERE tenant_id = $1 AND role = $2 AND version = $3`,
      rootVersion === undefined ? [tenantId, role] : [tenantId, role, Number(rootVersion)],
    );
    return rows[0] === undefined ? undefined : Buffer.from(rows[0].body);
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
    return this.dataSource.transaction(async (tx) => {
      const previous: Array<{ version: number; digest: string; body: string; expires_at: Date }> = await tx.query(
        `SELECT version, digest, body, expires_at FROM updates.director_targets WHERE device_id = $1 FOR UPDATE`,
        [deviceId],
      );
      const last = previous[0];
      if (last !== undefined && last.digest === digest && new Date(last.expires_at).getTime() - Date.now() > lifetime / 2) {
        return Buffer.from(last.body);
      }
      const [signer] = await this.keys(tx, tenantId, DIRECTOR_ROLE);
      const version = (last?.version ?? 0) + 1;
      const expires = new Date(Date.now() + lifetime);
      const body = metadataBytes(signDirectorTargets(version, expires, deviceId, targets, fields, signer!));
      await tx.query(
        `INSERT INTO updates.director_targets (device_id, tenant_id, version, digest, body, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (device_id) DO UPDATE SET tenant_id = excluded.tenant_id, version = excluded.version, digest = excluded.digest,
                                               body = excluded.body, expires_at = excluded.expires_at`,
        [deviceId, tenantId, version, digest, body.toString('utf8'), expires],
      );
      return body;
    });
  }

  private async publishLocked(tx: EntityManager, tenantId: string): Promise<void> {
    const released = await this.images.released(tenantId, tx);
    const next = async (role: OnlineRole) => ((await this.latestVersion(tx, tenantId, role)) ?? 0) + 1;
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
    await this.saveMetadata(tx, tenantId, 'targets', targetsVersion, targets, new Date(now + this.lifetimes.targetsDays * DAY));
    await this.saveMetadata(tx, tenantId, 'snapshot', snapshotVersion, snapshot, new Date(now + this.lifetimes.snapshotDays * DAY));
    await this.saveMetadata(tx, tenantId, 'timestamp', timestampVersion, timestamp, timestampExpires);
    // Only the latest online metadata is ever served; older versions need not be kept.
    await tx.query(`DELETE FROM updates.metadata WHERE tenant_id = $1 AND role IN ('targets', 'snapshot', 'timestamp') AND version < $2`, [
      tenantId,
      timestampVersion - 10,
    ]);
  }

  private async grants(tx: EntityManager, tenantId: string, rootKeys: readonly TufSigningKey[]): Promise<RoleGrants> {
    const online = async (role: OnlineRole) => (await this.keys(tx, tenantId, role)).map((k) => k.key);
    return {
      root: { keys: rootKeys.map((k) => k.key), threshold: this.rootPolicy.threshold },
      targets: await online('targets'),
      snapshot: await online('snapshot'),
      timestamp: await online('timestamp'),
      director: await online(DIRECTOR_ROLE),
    };
  }

  private async lock(tx: EntityManager, tenantId: string): Promise<void> {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('rampart.updates.metadata:' || $1))`, [tenantId]);
  }

  private async latestVersion(manager: EntityManager | DataSource, tenantId: string, role: SigningRole): Promise<number | undefined> {
    const rows: Array<{ version: number | null }> = await manager.query(
      `SELECT max(version) AS version FROM updates.metadata WHERE tenant_id = $1 AND role = $2`,
      [tenantId, role],
    );
    return rows[0]?.version ?? undefined;
  }

  private async saveMetadata(
    tx: EntityManager,
    tenantId: string,
    role: SigningRole,
    version: number,
    body: Buffer,
    expires: Date,
  ): Promise<void> {
    await tx.query(`INSERT INTO updates.metadata (tenant_id, role, version, body, expires_at) VALUES ($1, $2, $3, $4, $5)`, [
      tenantId,
      role,
      version,
      body.toString('utf8'),
      expires,
    ]);
  }

  private async saveKey(tx: EntityManager, tenantId: string, role: SigningRole, key: TufSigningKey): Promise<void> {
    await tx.query(`INSERT INTO updates.signing_keys (key_id, tenant_id, role, public_hex, sealed) VALUES ($1, $2, $3, $4, $5)`, [
      key.keyId,
      tenantId,
      role,
      key.publicHex,
      this.vault.seal(key.exportPrivatePem(), `${tenantId}/${role}`),
    ]);
  }

  private async keys(tx: EntityManager, tenantId: string, role: SigningRole): Promise<TufSigningKey[]> {
    const rows: Array<{ sealed: Buffer }> = await tx.query(
      `SELECT sealed FROM updates.signing_keys WHERE tenant_id = $1 AND role = $2 AND retired_at IS NULL ORDER BY created_at, key_id`,
      [tenantId, role],
    );
    if (rows.length === 0) throw new Error(`tenant ${tenantId} has no ${role} key`);
    return rows.map((r) => TufSigningKey.fromPrivatePem(this.vault.open(r.sealed, `${tenantId}/${role}`)));
  }
}
