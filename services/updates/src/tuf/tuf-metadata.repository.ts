import type { DIRECTOR_ROLE } from '@rampart/trust';
import type { DataSource } from 'typeorm';
import { executor, type Tx } from '../persistence/transactions.js';

export type OnlineRole = 'targets' | 'snapshot' | 'timestamp' | typeof DIRECTOR_ROLE;
export type SigningRole = 'root' | OnlineRole;

/** A TUF key object as a root lists it (public only). */
export interface TufKeyJson {
  readonly keytype: string;
  readonly scheme: string;
  readonly keyval: { readonly public: string };
}

/**
 * Which key a role uses: found again in the provider by `label`; `provider`
 * says where it lives. `label` is null for a key sealed before the key
 * provider that start-up (KEYS_PROVIDER=software) has not re-sealed yet.
 */
export interface StoredTufKey {
  readonly keyId: string;
  readonly label: string | null;
  readonly provider: 'software' | 'pkcs11';
  readonly tufKey: TufKeyJson;
}

export interface LegacySealedKey {
  readonly keyId: string;
  readonly tenantId: string;
  readonly role: SigningRole;
  readonly sealed: Buffer;
}

/** The director's targets a device was given last. */
export interface StoredDirectorTargets {
  readonly version: number;
  readonly digest: string;
  readonly body: string;
  readonly expires_at: Date;
}

/**
 * All SQL of the tenants' TUF repositories: signed metadata, which key each
 * role uses (public keys and provider labels; the software provider's sealed
 * keys are `SealedKeyTable`'s) and the director's per-device targets.
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
  async newestRoot(tenantId: string, tx?: Tx): Promise<string | undefined> {
    const rows: Array<{ body: string }> = await executor(this.dataSource, tx).query(
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

  async saveKey(key: StoredTufKey, tenantId: string, role: SigningRole, tx: Tx): Promise<void> {
    await executor(this.dataSource, tx).query(
      `INSERT INTO updates.signing_keys (key_id, tenant_id, role, label, provider, tuf_key) VALUES ($1, $2, $3, $4, $5, $6)`,
      [key.keyId, tenantId, role, key.label, key.provider, JSON.stringify(key.tufKey)],
    );
  }

  /** A role's keys that are not retired, oldest first. */
  async activeKeys(tenantId: string, role: SigningRole, tx?: Tx): Promise<StoredTufKey[]> {
    const rows: Array<{ key_id: string; label: string | null; provider: 'software' | 'pkcs11'; tuf_key: TufKeyJson }> = await executor(
      this.dataSource,
      tx,
    ).query(
      `SELECT key_id, label, provider, tuf_key FROM updates.signing_keys
        WHERE tenant_id = $1 AND role = $2 AND retired_at IS NULL ORDER BY created_at, key_id`,
      [tenantId, role],
    );
    return rows.map((r) => ({ keyId: r.key_id, label: r.label, provider: r.provider, tufKey: r.tuf_key }));
  }

  /** Tenants with an active key held by another provider than `provider` (an install that switched providers). */
  async tenantsWithKeysElsewhere(provider: 'software' | 'pkcs11'): Promise<string[]> {
    const rows: Array<{ tenant_id: string }> = await this.dataSource.query(
      `SELECT DISTINCT tenant_id FROM updates.signing_keys WHERE provider <> $1 AND retired_at IS NULL ORDER BY tenant_id`,
      [provider],
    );
    return rows.map((r) => r.tenant_id);
  }

  /** Keys sealed the old way (tenant/role as associated data), not yet re-sealed under a label. */
  async legacyKeys(): Promise<LegacySealedKey[]> {
    const rows: Array<{ key_id: string; tenant_id: string; role: SigningRole; legacy_sealed: Buffer }> = await this.dataSource.query(
      `SELECT key_id, tenant_id, role, legacy_sealed FROM updates.signing_keys WHERE label IS NULL ORDER BY created_at, key_id`,
    );
    return rows.map((r) => ({ keyId: r.key_id, tenantId: r.tenant_id, role: r.role, sealed: r.legacy_sealed }));
  }

  /**
   * Gives a legacy key its label, its bytes now re-sealed in `sealed_keys`
   * (same transaction), and drops the old bytes. False when another replica
   * did it first.
   */
  async adoptLegacyKey(keyId: string, label: string, resealed: Buffer, tx: Tx): Promise<boolean> {
    const run = executor(this.dataSource, tx);
    const rows: unknown[] = await run.query(
      `UPDATE updates.signing_keys SET label = $2, legacy_sealed = NULL WHERE key_id = $1 AND label IS NULL RETURNING key_id`,
      [keyId, label],
    );
    if (rows.length === 0) return false;
    await run.query(`INSERT INTO updates.sealed_keys (label, sealed) VALUES ($1, $2)`, [label, resealed]);
    return true;
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
