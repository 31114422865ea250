import type { AttestationReasonCode, EvidenceKind } from '@rampart/contracts';
import type { DataSource, EntityManager } from 'typeorm';
import type { AttestationPolicy, DeviceState } from './evidence-verifier.js';
import { measurementKey } from './evidence-verifier.js';

export type Role = 'Administrator' | 'Contributor' | 'Reader';

export interface ActiveToken {
  readonly id: string;
  readonly tenantId: string;
  readonly role: Role;
  /** Epoch ms, or null: it does not expire. */
  readonly expiresAt: number | null;
}

/** An API token as its tenant sees it: never the token or its hash. */
export interface TokenRow {
  readonly id: string;
  readonly role: Role;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  /** Neither revoked nor expired. */
  readonly active: boolean;
}

export interface DeviceRow {
  readonly id: string;
  readonly tenantId: string | null;
  readonly firstSeenAt: string | null;
  readonly claimedAt: string | null;
  readonly revoked: boolean;
  readonly revokedReason: string | null;
  readonly lastAttestedAt: string | null;
  readonly lastPass: boolean | null;
}

export interface TenantCaRow {
  readonly id: string;
  readonly tenantId: string;
  readonly certificatePem: string;
  /** The key sealed by the key vault (software keys), or null when a key provider holds it under `keyLabel`. */
  readonly encryptedKey: Buffer | null;
  /** The key's label in the key provider (a token), or null for a sealed key. */
  readonly keyLabel: string | null;
  /** The certificate of the CA that signed this one; null on rows made before it was recorded (the two-tier root). */
  readonly issuerCertificatePem: string | null;
  readonly notAfter: string;
  readonly status: 'current' | 'next' | 'retired';
}

/** A new tenant CA: its certificate, where its key is (exactly one of the two), and its issuer's certificate. */
export interface NewTenantCa {
  readonly certificatePem: string;
  readonly key: { readonly encryptedKey: Buffer } | { readonly keyLabel: string };
  readonly issuerCertificatePem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

const TENANT_CA_COLUMNS = `id, tenant_id AS "tenantId", certificate_pem AS "certificatePem", encrypted_key AS "encryptedKey",
  key_label AS "keyLabel", issuer_certificate_pem AS "issuerCertificatePem", not_after AS "notAfter", status`;

/** The latest CRL of one issuer, as every replica serves it. */
export interface StoredCrl {
  readonly crlNumber: number;
  /** SHA-256 over the revoked serials it lists: a different set needs a new CRL. */
  readonly revokedDigest: string;
  readonly pem: string;
  readonly thisUpdate: Date;
}

export interface PassRecord {
  readonly serial: string;
  readonly deviceId: string;
  readonly tenantId: string;
  readonly caId: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The kind of evidence that passed. */
  readonly kind: EvidenceKind;
  readonly audit: Record<string, unknown>;
}

export interface AuditEntry {
  readonly tenantId: string | null;
  readonly actor: string;
  readonly action: string;
  readonly subject?: string;
  readonly detail?: Record<string, unknown>;
}

type Db = Pick<DataSource | EntityManager, 'query'>;

const DEVICE_COLUMNS = `id, tenant_id AS "tenantId", first_seen_at AS "firstSeenAt", claimed_at AS "claimedAt", revoked,
  revoked_reason AS "revokedReason", last_attested_at AS "lastAttestedAt", last_pass AS "lastPass"`;

/** All SQL of the attestation service. Tenant-scoped reads take the tenant id and never return another's rows. */
export class AttestationRepository {
  constructor(private readonly dataSource: DataSource) {}

  transaction<T>(work: (repository: AttestationRepository, db: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction((manager) => work(new AttestationRepository(manager as unknown as DataSource), manager));
  }

  private get db(): Db {
    return { query: (sql: string, params?: unknown[]) => this.rows(sql, params) } as Db;
  }

  /**
   * TypeORM answers an UPDATE or DELETE with `[rows, affectedCount]` and any
   * other statement with the rows; this always gives the rows.
   */
  private async rows(sql: string, params?: unknown[]): Promise<unknown> {
    const result: unknown = await this.dataSource.query(sql, params);
    if (/^\s*(UPDATE|DELETE)\b/i.test(sql) || /^\s*WITH\b[\s\S]*\)\s*(UPDATE|DELETE)\b/i.test(sql)) {
      return Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) ? result[0] : result;
    }
    return result;
  }

  // Tenants and tokens

  async createTenant(id: string, name: string): Promise<boolean> {
    const rows = await this.db.query<Array<{ id: string }>>(
      `INSERT INTO attestation.tenants (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [id, name],
    );
    return rows.length === 1;
  }

  /** `expiresAt` in epoch ms, or null for a token that does not expire. */
  async createToken(tenantId: string, role: Role, tokenHash: string, expiresAt: number | null = null): Promise<string> {
    const rows = await this.db.query<Array<{ id: string }>>(
      `INSERT INTO attestation.api_tokens (tenant_id, role, token_hash, expires_at)
       VALUES ($1, $2, $3, to_timestamp($4::float8 / 1000)) RETURNING id`,
      [tenantId, role, tokenHash, expiresAt],
    );
    return rows[0]?.id ?? '';
  }

  /** A token that is neither revoked nor expired. */
  async findToken(tokenHash: string): Promise<ActiveToken | undefined> {
    const rows = await this.db.query<Array<{ id: string; tenantId: string; role: Role; expiresAt: number | null }>>(
      `SELECT id, tenant_id AS "tenantId", role, (extract(epoch FROM expires_at) * 1000)::float8 AS "expiresAt"
         FROM attestation.api_tokens
        WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
      [tokenHash],
    );
    const row = rows[0];
    return row === undefined ? undefined : { ...row, expiresAt: row.expiresAt === null ? null : Math.floor(row.expiresAt) };
  }

  /** A tenant's tokens, newest first: what they are, never their hashes. */
  async listTokens(tenantId: string): Promise<TokenRow[]> {
    const rows = await this.db.query<Array<{ id: string; role: Role; createdAt: Date; expiresAt: Date | null; revokedAt: Date | null }>>(
      `SELECT id, role, created_at AS "createdAt", expires_at AS "expiresAt", revoked_at AS "revokedAt"
         FROM attestation.api_tokens WHERE tenant_id = $1 ORDER BY created_at DESC, id`,
      [tenantId],
    );
    const now = Date.now();
    return rows.map((r) => ({
      id: r.id,
      role: r.role,
      createdAt: r.createdAt.toISOString(),
      expiresAt: r.expiresAt?.toISOString() ?? null,
      revokedAt: r.revokedAt?.toISOString() ?? null,
      active: r.revokedAt === null && (r.expiresAt === null || r.expiresAt.getTime() > now),
    }));
  }

  /** Serialises token changes of one tenant until the transaction ends (without blocking inserts that reference it). */
  async lockTenantTokens(tenantId: string): Promise<void> {
    await this.db.query(`SELECT 1 FROM attestation.tenants WHERE id = $1 FOR NO KEY UPDATE`, [tenantId]);
  }

  /** The token of this tenant with this id (undefined if none). */
  async tokenOfTenant(tenantId: string, id: string): Promise<{ role: Role; tokenHash: string; revoked: boolean } | undefined> {
    const rows = await this.db.query<Array<{ role: Role; tokenHash: string; revoked: boolean }>>(
      `SELECT role, token_hash AS "tokenHash", revoked_at IS NOT NULL AS revoked
         FROM attestation.api_tokens WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
      [tenantId, id],
    );
    return rows[0];
  }

  /** Active Administrator tokens of a tenant other than `exceptId`. */
  async otherActiveAdministrators(tenantId: string, exceptId: string): Promise<number> {
    const rows = await this.db.query<Array<{ n: number }>>(
      `SELECT count(*)::int AS n FROM attestation.api_tokens
        WHERE tenant_id = $1 AND id <> $2 AND role = 'Administrator' AND revoked_at IS NULL
          AND (expires_at IS NULL OR expires_at > now())`,
      [tenantId, exceptId],
    );
    return rows[0]?.n ?? 0;
  }

  async revokeToken(id: string): Promise<void> {
    await this.db.query(`UPDATE attestation.api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, [id]);
  }

  // Devices

  async deviceState(deviceId: string): Promise<DeviceState | undefined> {
    const rows = await this.db.query<Array<{ tenantId: string | null; revoked: boolean }>>(
      `SELECT tenant_id AS "tenantId", revoked FROM attestation.devices WHERE id = $1`,
      [deviceId],
    );
    const row = rows[0];
    return row === undefined ? undefined : { claimedBy: row.tenantId, revoked: row.revoked };
  }

  /**
   * Claims a device for a tenant. Idempotent for the same tenant; refused for
   * any other once claimed (claiming is permanent).
   */
  async claim(deviceId: string, tenantId: string): Promise<'claimed' | 'already-yours' | 'claimed-by-other'> {
    await this.db.query(`INSERT INTO attestation.devices (id) VALUES ($1) ON CONFLICT (id) DO NOTHING`, [deviceId]);
    const rows = await this.db.query<Array<{ id: string }>>(
      `UPDATE attestation.devices SET tenant_id = $2, claimed_at = now() WHERE id = $1 AND tenant_id IS NULL RETURNING id`,
      [deviceId, tenantId],
    );
    if (rows.length === 1) return 'claimed';
    const state = await this.deviceState(deviceId);
    return state?.claimedBy === tenantId ? 'already-yours' : 'claimed-by-other';
  }

  async setRevoked(deviceId: string, tenantId: string, revoked: boolean, reason: string | null): Promise<boolean> {
    const rows = await this.db.query<Array<{ id: string }>>(
      `UPDATE attestation.devices SET revoked = $3, revoked_reason = $4 WHERE id = $1 AND tenant_id = $2 RETURNING id`,
      [deviceId, tenantId, revoked, reason],
    );
    return rows.length === 1;
  }

  /** Revoked, unexpired certificates issued by one CA. */
  async revokedCertificates(caId: string): Promise<Array<{ serial: string; revokedAt: Date }>> {
    return this.db.query(
      `SELECT serial, revoked_at AS "revokedAt" FROM attestation.issued_certificates
        WHERE ca_id = $1 AND revoked_at IS NOT NULL AND not_after > now() ORDER BY revoked_at, serial`,
      [caId],
    );
  }

  async revokedDeviceIds(): Promise<string[]> {
    const rows = await this.db.query<Array<{ id: string }>>(`SELECT id FROM attestation.devices WHERE revoked ORDER BY id`);
    return rows.map((r) => r.id);
  }

  /** Marks every unexpired certificate of a device revoked (they then appear on the CRL). */
  async revokeCertificates(deviceId: string): Promise<number> {
    const rows = await this.db.query<Array<{ serial: string }>>(
      `UPDATE attestation.issued_certificates SET revoked_at = now() WHERE device_id = $1 AND revoked_at IS NULL AND not_after > now() RETURNING serial`,
      [deviceId],
    );
    return rows.length;
  }

  async listDevices(tenantId: string, limit: number, offset: number): Promise<DeviceRow[]> {
    return this.db.query(`SELECT ${DEVICE_COLUMNS} FROM attestation.devices WHERE tenant_id = $1 ORDER BY id LIMIT $2 OFFSET $3`, [
      tenantId,
      limit,
      offset,
    ]);
  }

  async device(tenantId: string, deviceId: string): Promise<DeviceRow | undefined> {
    const rows = await this.db.query<DeviceRow[]>(`SELECT ${DEVICE_COLUMNS} FROM attestation.devices WHERE tenant_id = $1 AND id = $2`, [
      tenantId,
      deviceId,
    ]);
    return rows[0];
  }

  // Nonces

  /**
   * The database half of admitting a batch of attestations, in one
   * statement: spends their nonces (a nonce twice in one batch is fresh
   * only the first time), records the sightings of their devices (unknown
   * devices become known), and reads each device's claim and revocation.
   * A device first seen by this statement reads as unknown.
   */
  async admit(
    spends: ReadonlyArray<{ nonce: string; expiresAt: number }>,
    deviceIds: readonly string[],
  ): Promise<{ fresh: boolean[]; states: Array<DeviceState | undefined> }> {
    const rows = await this.db.query<Array<{ kind: 'n' | 'd'; key: string; tenantId: string | null; revoked: boolean | null }>>(
      `WITH spent AS (
         INSERT INTO attestation.spent_nonces (nonce, expires_at)
           SELECT DISTINCT ON (nonce) nonce, to_timestamp(expires_ms / 1000.0) FROM unnest($1::text[], $2::float8[]) AS i(nonce, expires_ms)
         ON CONFLICT (nonce) DO NOTHING RETURNING nonce
       ), ids AS (SELECT DISTINCT unnest($3::text[]) AS id), inserted AS (
         INSERT INTO attestation.devices (id, first_seen_at) SELECT id, now() FROM ids ON CONFLICT (id) DO NOTHING RETURNING id
       ), first_seen AS (
         UPDATE attestation.devices d SET first_seen_at = now()
           FROM ids WHERE d.id = ids.id AND d.first_seen_at IS NULL AND ids.id NOT IN (SELECT id FROM inserted)
       )
       SELECT 'n' AS kind, nonce AS key, NULL::text AS "tenantId", NULL::boolean AS revoked FROM spent
       UNION ALL
       SELECT 'd', d.id, d.tenant_id, d.revoked FROM attestation.devices d JOIN ids ON d.id = ids.id`,
      [spends.map((i) => i.nonce), spends.map((i) => i.expiresAt), deviceIds],
    );
    const fresh = new Set<string>();
    const states = new Map<string, DeviceState>();
    for (const row of rows) {
      if (row.kind === 'n') fresh.add(row.key);
      else states.set(row.key, { claimedBy: row.tenantId, revoked: row.revoked === true });
    }
    return { fresh: spends.map((i) => fresh.delete(i.nonce)), states: deviceIds.map((id) => states.get(id)) };
  }

  /** Forgets spent nonces that have expired (a replay of one fails its expiry check anyway). */
  async sweepSpentNonces(): Promise<number> {
    const rows = await this.db.query<Array<{ nonce: string }>>(
      `DELETE FROM attestation.spent_nonces WHERE expires_at < now() - interval '1 minute' RETURNING nonce`,
    );
    return rows.length;
  }

  /** The policy entries relevant to one boot log (the full list can be large). */
  async policyFor(bootLog: ReadonlyArray<{ stage: string; sha256: string }>): Promise<AttestationPolicy> {
    // One round trip: the matching measurements and every floor, told apart by `kind`.
    const rows = await this.db.query<Array<{ kind: 'm' | 'f'; key: string; sha256: string | null; value: string }>>(
      `SELECT 'm' AS kind, m.stage AS key, m.sha256, m.status AS value FROM attestation.measurements m
         JOIN unnest($1::text[], $2::text[]) AS e(stage, sha256) ON e.stage = m.stage AND e.sha256 = m.sha256
       UNION ALL
       SELECT 'f', component, NULL, min_version::text FROM attestation.security_floors`,
      [bootLog.map((m) => m.stage), bootLog.map((m) => m.sha256)],
    );
    const measurements = new Map<string, 'released' | 'revoked'>();
    const floors = new Map<string, number>();
    for (const row of rows) {
      if (row.kind === 'm') measurements.set(measurementKey(row.key, row.sha256 ?? ''), row.value as 'released' | 'revoked');
      else floors.set(row.key, Number(row.value));
    }
    return { measurements, floors };
  }

  /**
   * Everything passing attestations write, for a whole batch in one
   * statement (one round trip, one commit, atomic): the issued certificates,
   * the verdicts, each device's last attestation, and the audit entries.
   */
  async recordPasses(passes: ReadonlyArray<PassRecord>): Promise<void> {
    await this.db.query(
      `WITH p AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[], $5::timestamptz[], $6::timestamptz[], $7::jsonb[], $8::text[])
           AS p(serial, device_id, tenant_id, ca_id, not_before, not_after, detail, evidence_kind)
       ), issued AS (
         INSERT INTO attestation.issued_certificates (serial, device_id, tenant_id, ca_id, not_before, not_after)
           SELECT serial, device_id, tenant_id, ca_id, not_before, not_after FROM p
       ), verdict AS (
         INSERT INTO attestation.verdicts (device_id, tenant_id, pass, reasons, evidence_kind)
           SELECT device_id, tenant_id, true, '{}', evidence_kind FROM p
       ), device AS (
         UPDATE attestation.devices d SET last_attested_at = now(), last_pass = true, os_version = u.os
           FROM (SELECT DISTINCT ON (device_id) device_id, detail->>'os' AS os FROM p) AS u WHERE d.id = u.device_id
       ), recovered AS (
         DELETE FROM attestation.recovery_grants g USING p WHERE g.device_id = p.device_id
       )
       INSERT INTO attestation.audit_log (tenant_id, actor, action, subject, detail)
         SELECT tenant_id, 'device:' || device_id, 'attestation.pass', device_id, detail FROM p`,
      [
        passes.map((p) => p.serial),
        passes.map((p) => p.deviceId),
        passes.map((p) => p.tenantId),
        passes.map((p) => p.caId),
        passes.map((p) => p.notBefore),
        passes.map((p) => p.notAfter),
        passes.map((p) => JSON.stringify(p.audit)),
        passes.map((p) => p.kind),
      ],
    );
  }

  async upsertMeasurement(stage: string, sha256: string, status: 'released' | 'revoked', imageVersion: string | null): Promise<void> {
    await this.db.query(
      `INSERT INTO attestation.measurements (stage, sha256, status, image_version) VALUES ($1, $2, $3, $4)
       ON CONFLICT (stage, sha256) DO UPDATE SET status = excluded.status, image_version = coalesce(excluded.image_version, attestation.measurements.image_version), updated_at = now()`,
      [stage, sha256, status, imageVersion],
    );
  }

  async setFloor(component: string, minVersion: number): Promise<void> {
    await this.db.query(
      `INSERT INTO attestation.security_floors (component, min_version) VALUES ($1, $2)
       ON CONFLICT (component) DO UPDATE SET min_version = GREATEST(attestation.security_floors.min_version, excluded.min_version)`,
      [component, minVersion],
    );
  }

  // Verdicts, certificates, audit

  async recordVerdict(
    deviceId: string | null,
    tenantId: string | null,
    pass: boolean,
    reasons: readonly AttestationReasonCode[],
    /** The kind the evidence said it was; null when it could not be read. */
    kind: EvidenceKind | null = null,
  ): Promise<void> {
    await this.db.query(
      `INSERT INTO attestation.verdicts (device_id, tenant_id, pass, reasons, evidence_kind) VALUES ($1, $2, $3, $4, $5)`,
      [deviceId, tenantId, pass, reasons, kind],
    );
    if (deviceId !== null) {
      await this.db.query(`UPDATE attestation.devices SET last_attested_at = now(), last_pass = $2 WHERE id = $1`, [deviceId, pass]);
    }
  }

  /**
   * After a refusal: a device that a newer OS would cure may take the recovery path until `expiresAt`;
   * any other refusal withdraws an earlier grant (the device's state got worse).
   */
  async setRecoveryGrant(
    deviceId: string,
    grant:
      | { readonly tenantId: string; readonly osSecurityVersion: number; readonly osMeasurement: string; readonly expiresAt: Date }
      | undefined,
  ): Promise<void> {
    if (grant === undefined) {
      await this.db.query(`DELETE FROM attestation.recovery_grants WHERE device_id = $1`, [deviceId]);
      return;
    }
    await this.db.query(
      `INSERT INTO attestation.recovery_grants (device_id, tenant_id, os_security_version, os_measurement, expires_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (device_id) DO UPDATE SET tenant_id = excluded.tenant_id, os_security_version = excluded.os_security_version,
                                             os_measurement = excluded.os_measurement, granted_at = now(), expires_at = excluded.expires_at`,
      [deviceId, grant.tenantId, grant.osSecurityVersion, grant.osMeasurement, grant.expiresAt],
    );
  }

  /** A device's grant, if it is in date and the device is still claimed by that tenant and not revoked. */
  async recoveryGrant(
    deviceId: string,
  ): Promise<{ tenantId: string; osSecurityVersion: number; osMeasurement: string; expiresAt: Date } | undefined> {
    const rows = await this.db.query<Array<{ tenantId: string; osSecurityVersion: number; osMeasurement: string; expiresAt: Date }>>(
      `SELECT g.tenant_id AS "tenantId", g.os_security_version AS "osSecurityVersion", g.os_measurement AS "osMeasurement",
              g.expires_at AS "expiresAt"
         FROM attestation.recovery_grants g JOIN attestation.devices d ON d.id = g.device_id
        WHERE g.device_id = $1 AND g.expires_at > now() AND d.tenant_id = g.tenant_id AND NOT d.revoked`,
      [deviceId],
    );
    return rows[0];
  }

  async verdicts(
    tenantId: string,
    limit: number,
  ): Promise<Array<{ deviceId: string; at: string; pass: boolean; reasons: string[]; kind: EvidenceKind | null }>> {
    return this.db.query(
      `SELECT device_id AS "deviceId", at, pass, reasons, evidence_kind AS kind FROM attestation.verdicts WHERE tenant_id = $1 ORDER BY at DESC, id DESC LIMIT $2`,
      [tenantId, limit],
    );
  }

  async currentTenantCa(tenantId: string): Promise<TenantCaRow | undefined> {
    const rows = await this.db.query<TenantCaRow[]>(
      `SELECT ${TENANT_CA_COLUMNS}
         FROM attestation.tenant_cas WHERE tenant_id = $1 AND status = 'current'`,
      [tenantId],
    );
    return rows[0];
  }

  /** Current and next CAs, and retired ones that stopped issuing less than `overlapMs` ago (their certificates may still be valid). */
  async tenantCas(tenantId: string, overlapMs: number): Promise<Array<Omit<TenantCaRow, 'encryptedKey'>>> {
    return this.db.query(
      `SELECT id, tenant_id AS "tenantId", certificate_pem AS "certificatePem", key_label AS "keyLabel",
              issuer_certificate_pem AS "issuerCertificatePem", not_after AS "notAfter", status
         FROM attestation.tenant_cas
        WHERE tenant_id = $1 AND (status <> 'retired' OR retired_at > now() - make_interval(secs => $2 / 1000.0))
        ORDER BY not_before`,
      [tenantId, overlapMs],
    );
  }

  async insertTenantCa(tenantId: string, ca: NewTenantCa, status: 'current' | 'next'): Promise<string> {
    const rows = await this.db.query<Array<{ id: string }>>(
      `INSERT INTO attestation.tenant_cas
         (tenant_id, certificate_pem, encrypted_key, key_label, issuer_certificate_pem, not_before, not_after, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
      [
        tenantId,
        ca.certificatePem,
        'encryptedKey' in ca.key ? ca.key.encryptedKey : null,
        'keyLabel' in ca.key ? ca.key.keyLabel : null,
        ca.issuerCertificatePem,
        ca.notBefore,
        ca.notAfter,
        status,
      ],
    );
    return rows[0]?.id ?? '';
  }

  /** Stops a successor that was never activated from ever issuing (its issuer was replaced before its turn came). */
  async retireTenantCa(tenantId: string, caId: string): Promise<void> {
    await this.db.query(
      `UPDATE attestation.tenant_cas SET status = 'retired', retired_at = now() WHERE tenant_id = $1 AND id = $2 AND status = 'next'`,
      [tenantId, caId],
    );
  }

  /** One of the tenant's CAs by id, whatever its status, while it has not expired; undefined for another tenant's. */
  async tenantCaById(tenantId: string, caId: string): Promise<TenantCaRow | undefined> {
    const rows = await this.db.query<TenantCaRow[]>(
      `SELECT ${TENANT_CA_COLUMNS}
         FROM attestation.tenant_cas WHERE tenant_id = $1 AND id = $2 AND not_after > now()`,
      [tenantId, caId],
    );
    return rows[0];
  }

  // CRLs

  /** Serialises the making of one issuer's next CRL across replicas (until the transaction ends). */
  async lockCrl(issuer: string): Promise<void> {
    await this.db.query(`SELECT pg_advisory_xact_lock(hashtext('rampart.attestation.crl:' || $1))`, [issuer]);
  }

  async latestCrl(issuer: string): Promise<StoredCrl | undefined> {
    const rows = await this.db.query<Array<{ crlNumber: string; revokedDigest: string; pem: string; thisUpdate: Date }>>(
      `SELECT crl_number AS "crlNumber", revoked_digest AS "revokedDigest", pem, this_update AS "thisUpdate" FROM attestation.crls WHERE issuer = $1`,
      [issuer],
    );
    const row = rows[0];
    return row === undefined ? undefined : { ...row, crlNumber: Number(row.crlNumber), thisUpdate: new Date(row.thisUpdate) };
  }

  /** Stores an issuer's newest CRL; its number must be above the one stored (the CHECK and the caller's lock keep it so). */
  async saveCrl(issuer: string, crl: StoredCrl): Promise<void> {
    await this.db.query(
      `INSERT INTO attestation.crls (issuer, crl_number, revoked_digest, pem, this_update) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (issuer) DO UPDATE SET crl_number = excluded.crl_number, revoked_digest = excluded.revoked_digest,
                                          pem = excluded.pem, this_update = excluded.this_update
        WHERE attestation.crls.crl_number < excluded.crl_number`,
      [issuer, crl.crlNumber, crl.revokedDigest, crl.pem, crl.thisUpdate],
    );
  }

  async nextTenantCa(tenantId: string): Promise<TenantCaRow | undefined> {
    const rows = await this.db.query<TenantCaRow[]>(
      `SELECT ${TENANT_CA_COLUMNS}
         FROM attestation.tenant_cas WHERE tenant_id = $1 AND status = 'next'`,
      [tenantId],
    );
    return rows[0];
  }

  /**
   * Serialises the rotation of one tenant's CAs across replicas until the
   * transaction ends: every replica runs the rotation policy, and two that
   * each saw no successor would each make one (the unique index
   * `tenant_cas_one_next` then refuses the second, loudly).
   */
  async lockTenantCas(tenantId: string): Promise<void> {
    await this.db.query(`SELECT pg_advisory_xact_lock(hashtext('rampart.attestation.tenant-ca:' || $1))`, [tenantId]);
  }

  /**
   * The successor becomes current; the old current stays trusted (its
   * certificates chain to the same root) but issues nothing. Two statements
   * (a partial unique index is checked row by row, so one UPDATE swapping
   * both could trip over itself): call it inside a transaction, under
   * `lockTenantCas`, so a failure of the second never leaves the tenant
   * without a current CA.
   */
  async activateNextTenantCa(tenantId: string): Promise<boolean> {
    if ((await this.nextTenantCa(tenantId)) === undefined) return false;
    await this.db.query(
      `UPDATE attestation.tenant_cas SET status = 'retired', retired_at = now() WHERE tenant_id = $1 AND status = 'current'`,
      [tenantId],
    );
    await this.db.query(`UPDATE attestation.tenant_cas SET status = 'current' WHERE tenant_id = $1 AND status = 'next'`, [tenantId]);
    return true;
  }

  async tenantIds(): Promise<string[]> {
    return (await this.db.query<Array<{ id: string }>>(`SELECT id FROM attestation.tenants ORDER BY id`)).map((r) => r.id);
  }

  async audit(entry: AuditEntry): Promise<void> {
    await this.db.query(`INSERT INTO attestation.audit_log (tenant_id, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)`, [
      entry.tenantId,
      entry.actor,
      entry.action,
      entry.subject ?? null,
      JSON.stringify(entry.detail ?? {}),
    ]);
  }

  async auditLog(
    tenantId: string,
    limit: number,
  ): Promise<Array<{ at: string; actor: string; action: string; subject: string | null; detail: unknown }>> {
    return this.db.query(
      `SELECT at, actor, action, subject, detail FROM attestation.audit_log WHERE tenant_id = $1 ORDER BY at DESC, id DESC LIMIT $2`,
      [tenantId, limit],
    );
  }
}
