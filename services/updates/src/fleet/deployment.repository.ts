import type { DataSource } from 'typeorm';
import { executor, type Tx } from '../persistence/transactions.js';
import type { RolloutPlan } from './rollout-plan.js';

export type DeploymentState = 'active' | 'paused' | 'aborted' | 'superseded' | 'rolled-back' | 'completed';

export interface Deployment {
  readonly id: string;
  readonly groupId: string;
  readonly images: readonly string[];
  readonly state: DeploymentState;
  readonly rollout: RolloutPlan;
  /** The wave open now (0-based) of `waves`. */
  readonly currentWave: number;
  readonly waves: number;
  readonly createdAt: string;
  readonly endedAt: string | null;
  readonly reason: string | null;
}

interface DeploymentSqlRow {
  id: string;
  group_id: string;
  images: string[];
  state: DeploymentState;
  rollout: RolloutPlan;
  current_wave: number;
  waves: number;
  created_at: Date;
  ended_at: Date | null;
  reason: string | null;
}

function deployment(r: DeploymentSqlRow): Deployment {
  return {
    id: r.id,
    groupId: r.group_id,
    images: r.images,
    state: r.state,
    rollout: r.rollout,
    currentWave: r.current_wave,
    waves: r.waves,
    createdAt: new Date(r.created_at).toISOString(),
    endedAt: r.ended_at === null ? null : new Date(r.ended_at).toISOString(),
    reason: r.reason,
  };
}

const DEPLOYMENT_COLUMNS = 'id, group_id, images, state, rollout, current_wave, waves, created_at, ended_at, reason';

/** An active deployment as the rollout engine reads it. */
export interface ActiveDeployment {
  id: string;
  tenant_id: string;
  group_id: string;
  images: string[];
  rollout: RolloutPlan;
  current_wave: number;
  waves: number;
  /** The first wave the install and attestation gates judge (a person's resume accepted those before). */
  gates_from_wave: number;
  wave_started_at: Date;
  created_at: Date;
}

const ACTIVE_COLUMNS = 'id, tenant_id, group_id, images, rollout, current_wave, waves, gates_from_wave, wave_started_at, created_at';

/** Where one device stands in a deployment's open waves. */
export interface WaveDevice {
  device_id: string;
  wave: number;
  state: string;
}

/** One device's row of a deployment, as its status shows it. */
export interface DeploymentDeviceRow {
  device_id: string;
  wave: number;
  state: string;
  attempts: number;
  detail: string | null;
  notified_at: Date | null;
  first_offered_at: Date | null;
  deferred_until: Date | null;
  updated_at: Date;
}

/** A deployment of a device's group, with that device's row in it if it has one (what the director chooses from). */
export interface DeploymentForDevice {
  id: string;
  images: string[];
  state: DeploymentState;
  current_wave: number;
  waves: number;
  /** This device's row in the deployment, if it has one. */
  wave: number | null;
  device_state: string | null;
  deferred_until: Date | null;
}

/**
 * All SQL of deployments and their devices (waves, per-device state, the
 * rollout's gates' inputs). Methods that take a `Tx` run in the
 * caller's transaction; the rollout engine decides where transactions begin
 * and end.
 */
export class DeploymentRepository {
  constructor(private readonly dataSource: DataSource) {}

  // Deployments, as operators see them

  /** Holds the group's deployment lock until `tx` ends: one new deployment of a group at a time. */
  async lockGroup(groupId: string, tx: Tx): Promise<void> {
    await executor(this.dataSource, tx).query(`SELECT pg_advisory_xact_lock(hashtext('rampart.updates.group:' || $1))`, [groupId]);
  }

  /** Ends the group's current deployment (active, paused or completed): a newer one replaces it. */
  async supersedeCurrent(groupId: string, tx: Tx): Promise<void> {
    await executor(this.dataSource, tx).query(
      `UPDATE updates.deployments SET state = 'superseded', ended_at = now(), reason = 'a newer deployment'
          WHERE group_id = $1 AND state IN ('active', 'paused', 'completed')`,
      [groupId],
    );
  }

  /** A new active deployment, and every device drawn into it (pending, in its wave). */
  async insert(
    created: {
      id: string;
      tenantId: string;
      groupId: string;
      images: readonly string[];
      plan: RolloutPlan;
      waves: number;
      waveOf: ReadonlyMap<string, number>;
    },
    tx: Tx,
  ): Promise<Deployment> {
    const rows: DeploymentSqlRow[] = await executor(this.dataSource, tx).query(
      `INSERT INTO updates.deployments (id, tenant_id, group_id, images, state, rollout, waves) VALUES ($1, $2, $3, $4, 'active', $5, $6)
         RETURNING ${DEPLOYMENT_COLUMNS}`,
      [created.id, created.tenantId, created.groupId, created.images, JSON.stringify(created.plan), created.waves],
    );
    await executor(this.dataSource, tx).query(
      `INSERT INTO updates.deployment_devices (deployment_id, device_id, wave, state)
         SELECT $1, d, w, 'pending' FROM unnest($2::text[], $3::int[]) AS t(d, w)`,
      [created.id, [...created.waveOf.keys()], [...created.waveOf.values()]],
    );
    return deployment(rows[0]!);
  }

  /** A group's deployments, newest first. */
  async forGroup(tenantId: string, groupId: string): Promise<Deployment[]> {
    const rows: DeploymentSqlRow[] = await this.dataSource.query(
      `SELECT ${DEPLOYMENT_COLUMNS} FROM updates.deployments
        WHERE tenant_id = $1 AND group_id = $2 ORDER BY created_at DESC, id`,
      [tenantId, groupId],
    );
    return rows.map(deployment);
  }

  async find(tenantId: string, id: string): Promise<Deployment | undefined> {
    const rows: DeploymentSqlRow[] = await this.dataSource.query(
      `SELECT ${DEPLOYMENT_COLUMNS} FROM updates.deployments WHERE tenant_id = $1 AND id = $2`,
      [tenantId, id],
    );
    return rows[0] === undefined ? undefined : deployment(rows[0]);
  }

  /**
   * Moves a deployment by hand to `to` if it is in one of `from`, keeping
   * the reason; `ends` stamps its end; `resumes` makes the gates judge only
   * the waves opened after now. Undefined if it was not in one of `from`.
   */
  async transition(
    tenantId: string,
    id: string,
    change: { from: readonly DeploymentState[]; to: DeploymentState; reason: string; ends: boolean; resumes: boolean },
  ): Promise<Deployment | undefined> {
    const [rows]: [DeploymentSqlRow[], number] = await this.dataSource.query(
      `UPDATE updates.deployments SET state = $3, reason = $4, ended_at = CASE WHEN $5 THEN now() ELSE ended_at END,
              gates_from_wave = CASE WHEN $7 THEN current_wave + 1 ELSE gates_from_wave END
        WHERE tenant_id = $1 AND id = $2 AND state = ANY($6)
        RETURNING ${DEPLOYMENT_COLUMNS}`,
      [tenantId, id, change.to, change.reason, change.ends, change.from, change.resumes],
    );
    return rows[0] === undefined ? undefined : deployment(rows[0]);
  }

  /** Devices a deployment was offered to (every state but pending). */
  async reachedDevices(id: string): Promise<string[]> {
    const reached: Array<{ device_id: string }> = await this.dataSource.query(
      `SELECT device_id FROM updates.deployment_devices WHERE deployment_id = $1 AND state <> 'pending'`,
      [id],
    );
    return reached.map((r) => r.device_id);
  }

  /** Every device row of a deployment, by wave and device. */
  async devices(id: string): Promise<DeploymentDeviceRow[]> {
    return this.dataSource.query(
      `SELECT device_id, wave, state, attempts, detail, notified_at, first_offered_at, deferred_until, updated_at FROM updates.deployment_devices
        WHERE deployment_id = $1 ORDER BY wave, device_id`,
      [id],
    );
  }

  /** The devices a tenant's deployment drew (of one wave, if given); null if the tenant has no such deployment. */
  async cohortDevices(tenantId: string, id: string | undefined, wave: number | undefined): Promise<string[] | null> {
    const rows: Array<{ device_id: string }> = await this.dataSource.query(
      `SELECT x.device_id FROM updates.deployment_devices x JOIN updates.deployments d ON d.id = x.deployment_id
        WHERE d.tenant_id = $1 AND d.id = $2 AND ($3::int IS NULL OR x.wave = $3) ORDER BY x.device_id`,
      [tenantId, id, wave ?? null],
    );
    if (rows.length === 0) {
      const known: unknown[] = await this.dataSource.query(`SELECT 1 FROM updates.deployments WHERE tenant_id = $1 AND id = $2`, [
        tenantId,
        id,
      ]);
      if (known.length === 0) return null;
    }
    return rows.map((r) => r.device_id);
  }

  // The rollout engine's reads and moves

  /** Every active deployment, of every tenant. */
  async active(): Promise<ActiveDeployment[]> {
    return this.dataSource.query(`SELECT ${ACTIVE_COLUMNS} FROM updates.deployments WHERE state = 'active'`);
  }

  /** Takes the deployment's rollout lock until `tx` ends, if no one else holds it (false: another replica does). */
  async tryLockRollout(id: string, tx: Tx): Promise<boolean> {
    const lock: Array<{ locked: boolean }> = await executor(this.dataSource, tx).query(
      `SELECT pg_try_advisory_xact_lock(hashtext('rampart.updates.rollout:' || $1)) AS locked`,
      [id],
    );
    return lock[0]?.locked === true;
  }

  /** The deployment if it is still active (and still at `wave`, when given). */
  async activeById(id: string, wave: number | undefined, tx: Tx): Promise<ActiveDeployment | undefined> {
    const fresh: ActiveDeployment[] = await executor(this.dataSource, tx).query(
      `SELECT ${ACTIVE_COLUMNS} FROM updates.deployments WHERE id = $1 AND state = 'active' AND ($2::int IS NULL OR current_wave = $2)`,
      [id, wave ?? null],
    );
    return fresh[0];
  }

  /**
   * Devices told more than `timeoutSecs` ago that have not answered: offered
   * again while they have attempts left (`retries`), timed out after.
   */
  async retryOrTimeOutUnanswered(id: string, retries: number, timeoutSecs: number, tx: Tx): Promise<void> {
    await executor(this.dataSource, tx).query(
      `UPDATE updates.deployment_devices SET attempts = attempts + 1, notified_at = now(), state = 'pending', updated_at = now()
        WHERE deployment_id = $1 AND state = 'notified' AND notified_at < now() - make_interval(secs => $3) AND attempts < $2`,
      [id, retries, timeoutSecs],
    );
    await executor(this.dataSource, tx).query(
      `UPDATE updates.deployment_devices SET state = 'timed-out', updated_at = now(), detail = 'no answer in time'
        WHERE deployment_id = $1 AND state = 'notified' AND notified_at < now() - make_interval(secs => $3) AND attempts >= $2`,
      [id, retries, timeoutSecs],
    );
  }

  /** Deferrals that ran out go back to pending. */
  async endExpiredDeferrals(id: string, tx: Tx): Promise<void> {
    await executor(this.dataSource, tx).query(
      `UPDATE updates.deployment_devices SET state = 'pending', deferred_until = NULL, updated_at = now()
        WHERE deployment_id = $1 AND state = 'deferred' AND deferred_until < now()`,
      [id],
    );
  }

  /** The devices of waves 0..`currentWave`. */
  async openWaveDevices(id: string, currentWave: number, tx: Tx): Promise<WaveDevice[]> {
    return executor(this.dataSource, tx).query(
      `SELECT device_id, wave, state FROM updates.deployment_devices WHERE deployment_id = $1 AND wave <= $2`,
      [id, currentWave],
    );
  }

  /** Opens `wave` now; its devices. */
  async openWave(id: string, wave: number, tx: Tx): Promise<string[]> {
    await executor(this.dataSource, tx).query(`UPDATE updates.deployments SET current_wave = $2, wave_started_at = now() WHERE id = $1`, [
      id,
      wave,
    ]);
    const next: Array<{ device_id: string }> = await executor(this.dataSource, tx).query(
      `SELECT device_id FROM updates.deployment_devices WHERE deployment_id = $1 AND wave = $2`,
      [id, wave],
    );
    return next.map((n) => n.device_id);
  }

  /** Moves a deployment to `state` with its reason (`ends`: stamps its end). */
  async setState(id: string, state: DeploymentState, reason: string, ends: boolean, tx: Tx): Promise<void> {
    await executor(this.dataSource, tx).query(
      `UPDATE updates.deployments SET state = $2, reason = $3, ended_at = CASE WHEN $4 THEN now() ELSE ended_at END WHERE id = $1`,
      [id, state, reason, ends],
    );
  }

  /** The images of the group's deployment before one created at `createdAt` (superseded or completed), if any. */
  async previousImages(groupId: string, createdAt: Date): Promise<string[] | undefined> {
    const previous: Array<{ images: string[] }> = await this.dataSource.query(
      `SELECT images FROM updates.deployments WHERE group_id = $1 AND created_at < $2 AND state IN ('superseded', 'completed')
        ORDER BY created_at DESC LIMIT 1`,
      [groupId, createdAt],
    );
    return previous[0]?.images;
  }

  // The director's reads and moves

  /** The group's 20 newest deployments, each with this device's row if it has one. */
  async forDevice(groupId: string, deviceId: string): Promise<DeploymentForDevice[]> {
    return this.dataSource.query(
      `SELECT d.id, d.images, d.state, d.current_wave, d.waves, x.wave, x.state AS device_state, x.deferred_until
         FROM updates.deployments d
         LEFT JOIN updates.deployment_devices x ON x.deployment_id = d.id AND x.device_id = $2
        WHERE d.group_id = $1 ORDER BY d.created_at DESC, d.id LIMIT 20`,
      [groupId, deviceId],
    );
  }

  /**
   * Records that the device was offered the deployment now (in `wave`,
   * if it has no row yet): notified, keeping its first offer's time. A
   * device that answered already keeps its answer.
   */
  async markOffered(id: string, deviceId: string, wave: number): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO updates.deployment_devices (deployment_id, device_id, wave, state, notified_at, first_offered_at)
           VALUES ($1, $2, $3, 'notified', now(), now())
           ON CONFLICT (deployment_id, device_id) DO UPDATE SET state = 'notified', notified_at = now(), updated_at = now(),
             first_offered_at = coalesce(updates.deployment_devices.first_offered_at, now())
            WHERE updates.deployment_devices.state IN ('pending', 'deferred')`,
      [id, deviceId, wave],
    );
  }

  /**
   * A device's answer on a deployment of the tenant it was offered; a
   * deferral ends after `deferMinutes`, never later than `maxDeferralSecs`
   * after the first offer. False if the device has no offered row there.
   */
  async recordReport(
    tenantId: string,
    deviceId: string,
    id: string,
    report: { state: string; detail: string; deferMinutes: number; maxDeferralSecs: number },
  ): Promise<boolean> {
    const [, affected]: [unknown[], number] = await this.dataSource.query(
      `UPDATE updates.deployment_devices x SET state = $4, detail = $5, updated_at = now(),
              deferred_until = CASE WHEN $4 = 'deferred'
                THEN least(now() + make_interval(mins => $6), coalesce(x.first_offered_at, now()) + make_interval(secs => $7))
              END
         FROM updates.deployments d
        WHERE x.deployment_id = $1 AND x.device_id = $2 AND d.id = x.deployment_id AND d.tenant_id = $3
          AND x.state IN ('notified', 'deferred', 'installed', 'failed', 'timed-out')`,
      [id, deviceId, tenantId, report.state, report.detail, report.deferMinutes, report.maxDeferralSecs],
    );
    return affected === 1;
  }
}
