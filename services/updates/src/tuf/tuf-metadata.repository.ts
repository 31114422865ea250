import type { DIRECTOR_ROLE } from '@rampart/trust';
import type { DataSource } from 'typeorm';
import { executor, type Tx } from '../persistence/transactions.js';

export type OnlineRole = 'targets' | 'snapshot' | 'timestamp' | typeof DIRECTOR_ROLE;
export type SigningRole = 'root' | OnlineRole;

/** The director's targets a device was given last. */
export interface StoredDirectorTargets {
  readonly version: number;
  readonly digest: string;
  readonly body: string;
  readonly expires_at: Date;
}

/**
 * All SQL of the tenants' TUF repositories: signed metadata, signing keys
 * (sealed; sealing is the caller's) and the director's per-device targets.
 * Writes take the caller's transaction: signing a version and storing it
 * must happen under the tenant's lock, in one transaction.
 */
export class TufMetadataRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Holds the tenant's metadata lock until `tx` ends, so two replicas never sign two different metadata of the same version. */
  async lockTenant(tenantId: string, tx: Tx): Promise<void> {
    await executor(this.dataSource, tx).query(`SELECT pg_advisory_xact_lock(hashtext('rampart.updates.metadata:' || $1))`, [tenantId]);
  }

  async latestVersion(tenantId: string, role: SigningRole, tx?: Tx): Promise<number | undefined> {
    const rows: Array<{ version: number | null }> = await executor(this.dataSource, tx).query(
      `SELECT max(version) AS version FROM updates.metadata WHERE tenant_id = $1 AND role = $2`,
      [tenantId, role],
    );
    return rows[0]?.version ?? undefined;
  }

  /** Tenants whose newest timestamp expires before `timestampBefore`, or whose newest targets or snapshot expire before `onlineBefore`. */
  async tenantsExpiring(timestampBefore: Date, onlineBefore: Date): Promise<string[]> {
    const due: Array<{ tenant_id: string }> = await this.dataSource.query(
      `SELECT DISTINCT m.tenant_id FROM updates.metadata m
        WHERE m.version = (SELECT max(version) FROM updates.metadata x WHERE x.tenant_id = m.tenant_id AND x.role = m.role)
          AND ((m.role = 'timestamp' AND m.expires_at < $1) OR (m.role IN ('targets', 'snapshot') AND m.expires_at < $2))`,
      [timestampBefore, onlineBefore],
    );
    return due.map((d) => d.tenant_id);
  }

  /** The newest root's body, as served. */
  async newestRoot(tenantId: string): Promise<string | undefined> {
    const rows: Array<{ body: string }> = await this.dataSource.query(
      `SELECT body FROM updates.metadata WHERE tenant_id = $1 AND role = 'root' ORDER BY version DESC LIMIT 1`,
      [tenantId],
    );
    return rows[0]?.body;
  }

  /** A role's body at `version`, or its newest when `version` is undefined. */
  async body(tenantId: string, role: SigningRole, version?: number): Promise<string | undefined> {
    const rows: Array<{ body: string }> = await this.dataSource.query(
      version === undefined
        ? `SELECT body FROM updates.metadata WHERE tenant_id = $1 AND role = $2 ORDER BY version DESC LIMIT 1`
        : `SELECT body FROM updates.metadata WHERE tenant_id = $1 AND role = $2 AND version = $3`,
      version === undefined ? [tenantId, role] : [tenantId, role, version],
    );
    return rows[0]?.body;
  }

  async saveMetadata(tenantId: string, role: SigningRole, version: number, body: Buffer, expires: Date, tx: Tx): Promise<void> {
    await executor(this.dataSource, tx).query(
      `INSERT INTO updates.metadata (tenant_id, role, version, body, expires_at) VALUES ($1, $2, $3, $4, $5)`,
      [tenantId, role, version, body.toString('utf8'), expires],
    );
  }

  /** Drops the online metadata (targets, snapshot, timestamp) below `version`: only the latest is ever served. */
  async pruneOnline(tenantId: string, belowVersion: number, tx: Tx): Promise<void> {
    await executor(this.dataSource, tx).query(
      `DELETE FROM updates.metadata WHERE tenant_id = $1 AND role IN ('targets', 'snapshot', 'timestamp') AND version < $2`,
      [tenantId, belowVersion],
    );
  }

  async saveKey(
    key: { readonly keyId: string; readonly publicHex: string; readonly sealed: Buffer },
    tenantId: string,
    role: SigningRole,
    tx: Tx,
  ): Promise<void> {
    await executor(this.dataSource, tx).query(
      `INSERT INTO updates.signing_keys (key_id, tenant_id, role, public_hex, sealed) VALUES ($1, $2, $3, $4, $5)`,
      [key.keyId, tenantId, role, key.publicHex, key.sealed],
    );
  }

  /** The sealed private keys of a role that are not retired, oldest first. */
  async sealedKeys(tenantId: string, role: SigningRole, tx: Tx): Promise<Buffer[]> {
    const rows: Array<{ sealed: Buffer }> = await executor(this.dataSource, tx).query(
      `SELECT sealed FROM updates.signing_keys WHERE tenant_id = $1 AND role = $2 AND retired_at IS NULL ORDER BY created_at, key_id`,
      [tenantId, role],
    );
    return rows.map((r) => r.sealed);
  }

  async retireRootKeys(tenantId: string, tx: Tx): Promise<void> {
    await executor(this.dataSource, tx).query(
      `UPDATE updates.signing_keys SET retired_at = now() WHERE tenant_id = $1 AND role = 'root' AND retired_at IS NULL`,
      [tenantId],
    );
  }

  /** The director's targets a device was given last, its row locked until `tx` ends. */
  async directorTargetsForUpdate(deviceId: string, tx: Tx): Promise<StoredDirectorTargets | undefined> {
    const previous: StoredDirectorTargets[] = await executor(this.dataSource, tx).query(
      `SELECT version, digest, body, expires_at FROM updates.director_targets WHERE device_id = $1 FOR UPDATE`,
      [deviceId],
    );
    return previous[0];
  }

  async saveDirectorTargets(
    targets: { deviceId: string; tenantId: string; version: number; digest: string; body: Buffer; expires: Date },
    tx: Tx,
  ): Promise<void> {
    await executor(this.dataSource, tx).query(
      `INSERT INTO updates.director_targets (device_id, tenant_id, version, digest, body, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (device_id) DO UPDATE SET tenant_id = excluded.tenant_id, version = excluded.version, digest = excluded.digest,
                                               body = excluded.body, expires_at = excluded.expires_at`,
      [targets.deviceId, targets.tenantId, targets.version, targets.digest, targets.body.toString('utf8'), targets.expires],
    );
  }
}
