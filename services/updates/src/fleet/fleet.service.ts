import { randomUUID } from 'node:crypto';
import { ErrorCode, Subject } from '@rampart/contracts';
import { DomainError, type Logger, type TypedBus } from '@rampart/service-kit';
import type { DataSource, EntityManager } from 'typeorm';
import type { ImageRow, ImagesRepository, OsFeed } from '../images/images.repository.js';
import { RolloutPlanSchema, assignWaves, type RolloutPlan } from './rollout-plan.js';

export type UpdatePolicy = 'all' | 'no-app-updates' | 'none';
export type { OsFeed };
export type DeploymentState = 'active' | 'paused' | 'aborted' | 'superseded' | 'rolled-back' | 'completed';

/** Every product starts with these groups, as Azure Sphere's did. */
export const DEFAULT_GROUPS: ReadonlyArray<{ name: string; updatePolicy: UpdatePolicy; osFeed: OsFeed }> = [
  { name: 'Development', updatePolicy: 'no-app-updates', osFeed: 'retail' },
  { name: 'Field Test', updatePolicy: 'all', osFeed: 'retail' },
  { name: 'Production', updatePolicy: 'all', osFeed: 'retail' },
];

export class FleetError extends DomainError {
  override readonly name = 'FleetError';
  constructor(
    readonly code: typeof ErrorCode.badRequest | typeof ErrorCode.notFound | typeof ErrorCode.conflict,
    message: string,
  ) {
    super(message);
  }
}

export interface Product {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly createdAt: string;
}

export interface DeviceGroup {
  readonly id: string;
  readonly productId: string;
  readonly name: string;
  readonly updatePolicy: UpdatePolicy;
  readonly osFeed: OsFeed;
  /** Daily maintenance window, UTC hours [start, end); null: updates any time. */
  readonly window: { readonly startHour: number; readonly endHour: number } | null;
  readonly createdAt: string;
}

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

/** The state a deployment may move to by hand, and from which. */
const MANUAL: Readonly<Record<'pause' | 'resume' | 'abort' | 'rollback', { from: DeploymentState[]; to: DeploymentState }>> = {
  pause: { from: ['active'], to: 'paused' },
  resume: { from: ['paused'], to: 'active' },
  abort: { from: ['active', 'paused'], to: 'aborted' },
  rollback: { from: ['active', 'paused', 'aborted', 'completed'], to: 'rolled-back' },
};

/**
 * Products, device groups, membership and deployments of one tenant. A
 * deployment is immutable (an image set for a group); a new one supersedes
 * the group's current one, and every one stays in the history.
 */
export class FleetService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly images: ImagesRepository,
    private readonly bus: TypedBus,
    private readonly logger: Logger,
    /** Tells devices to check for updates now (over MQTT, through the gateways). */
    private readonly notify: (deviceIds: readonly string[]) => Promise<void> = () => Promise.resolve(),
  ) {}

  async createProduct(tenantId: string, name: string, description: string): Promise<{ product: Product; groups: DeviceGroup[] }> {
    return this.dataSource.transaction(async (tx) => {
      const id = randomUUID();
      const inserted: unknown[] = await tx.query(
        `INSERT INTO updates.products (id, tenant_id, name, description) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id`,
        [id, tenantId, name, description],
      );
      if (inserted.length === 0) throw new FleetError(ErrorCode.conflict, `a product named ${JSON.stringify(name)} exists`);
      for (const group of DEFAULT_GROUPS) await this.insertGroup(tx, tenantId, id, group.name, group.updatePolicy, group.osFeed);
      return { product: (await this.products(tenantId, tx)).find((p) => p.id === id)!, groups: await this.groups(tenantId, id, tx) };
    });
  }

  async products(tenantId: string, manager: EntityManager | DataSource = this.dataSource): Promise<Product[]> {
    const rows: Array<{ id: string; name: string; description: string; created_at: Date }> = await manager.query(
      `SELECT id, name, description, created_at FROM updates.products WHERE tenant_id = $1 ORDER BY name`,
      [tenantId],
    );
    return rows.map((r) => ({ id: r.id, name: r.name, description: r.description, createdAt: new Date(r.created_at).toISOString() }));
  }

  async createGroup(tenantId: string, productId: string, name: string, updatePolicy: UpdatePolicy, osFeed: OsFeed): Promise<DeviceGroup> {
    return this.dataSource.transaction(async (tx) => {
      if (!(await this.products(tenantId, tx)).some((p) => p.id === productId)) throw new FleetError(ErrorCode.notFound, 'no such product');
      const id = await this.insertGroup(tx, tenantId, productId, name, updatePolicy, osFeed);
      return (await this.groups(tenantId, productId, tx)).find((g) => g.id === id)!;
    });
  }

  async groups(tenantId: string, productId?: string, manager: EntityManager | DataSource = this.dataSource): Promise<DeviceGroup[]> {
    const rows: Array<{
      id: string;
      product_id: string;
      name: string;
      update_policy: UpdatePolicy;
      os_feed: OsFeed;
      window_start: number | null;
      window_end: number | null;
      created_at: Date;
    }> = await manager.query(
      `SELECT id, product_id, name, update_policy, os_feed, window_start, window_end, created_at FROM updates.device_groups
          WHERE tenant_id = $1 AND ($2::text IS NULL OR product_id = $2) ORDER BY product_id, created_at`,
      [tenantId, productId ?? null],
    );
    return rows.map((r) => ({
      id: r.id,
      productId: r.product_id,
      name: r.name,
      updatePolicy: r.update_policy,
      osFeed: r.os_feed,
      window: r.window_start === null || r.window_end === null ? null : { startHour: r.window_start, endHour: r.window_end },
      createdAt: new Date(r.created_at).toISOString(),
    }));
  }

  /** Changes a group's update policy, OS feed or maintenance window (null: any time). */
  async updateGroup(
    tenantId: string,
    groupId: string,
    change: {
      updatePolicy?: UpdatePolicy | undefined;
      osFeed?: OsFeed | undefined;
      window?: { startHour: number; endHour: number } | null | undefined;
    },
  ): Promise<DeviceGroup> {
    const current = await this.group(tenantId, groupId);
    const window = change.window === undefined ? current.window : change.window;
    await this.dataSource.query(
      `UPDATE updates.device_groups SET update_policy = $3, os_feed = $4, window_start = $5, window_end = $6 WHERE tenant_id = $1 AND id = $2`,
      [
        tenantId,
        groupId,
        change.updatePolicy ?? current.updatePolicy,
        change.osFeed ?? current.osFeed,
        window?.startHour ?? null,
        window?.endHour ?? null,
      ],
    );
    return this.group(tenantId, groupId);
  }

  async group(tenantId: string, groupId: string, manager: EntityManager | DataSource = this.dataSource): Promise<DeviceGroup> {
    const group = (await this.groups(tenantId, undefined, manager)).find((g) => g.id === groupId);
    if (group === undefined) throw new FleetError(ErrorCode.notFound, 'no such device group');
    return group;
  }

  /** Puts a device the tenant has claimed into one of its groups (a device is in one group at a time). */
  async assign(tenantId: string, groupId: string, deviceId: string): Promise<void> {
    await this.group(tenantId, groupId);
    const { tenantId: claimedBy } = await this.bus.request(Subject.attestationDeviceTenant, { deviceId });
    // A device another tenant claimed answers exactly like one nobody claimed.
    if (claimedBy !== tenantId) throw new FleetError(ErrorCode.notFound, 'no such device in this tenant');
    await this.dataSource.query(
      `INSERT INTO updates.group_members (device_id, tenant_id, group_id) VALUES ($1, $2, $3)
       ON CONFLICT (device_id) DO UPDATE SET group_id = excluded.group_id, assigned_at = now()`,
      [deviceId, tenantId, groupId],
    );
  }

  /** The devices of one of the tenant's groups; another tenant's group answers 404 like an unknown one, never an empty list. */
  async members(tenantId: string, groupId: string): Promise<string[]> {
    await this.group(tenantId, groupId);
    const rows: Array<{ device_id: string }> = await this.dataSource.query(
      `SELECT device_id FROM updates.group_members WHERE tenant_id = $1 AND group_id = $2 ORDER BY device_id`,
      [tenantId, groupId],
    );
    return rows.map((r) => r.device_id);
  }

  /** A group's members, or the devices a deployment drew (one wave of them); null if not this tenant's. */
  async cohortDevices(
    tenantId: string,
    of: { groupId?: string | undefined; deploymentId?: string | undefined; wave?: number | undefined },
  ): Promise<string[] | null> {
    if (of.groupId !== undefined) {
      if (!(await this.groups(tenantId)).some((g) => g.id === of.groupId)) return null;
      return this.members(tenantId, of.groupId);
    }
    const rows: Array<{ device_id: string }> = await this.dataSource.query(
      `SELECT x.device_id FROM updates.deployment_devices x JOIN updates.deployments d ON d.id = x.deployment_id
        WHERE d.tenant_id = $1 AND d.id = $2 AND ($3::int IS NULL OR x.wave = $3) ORDER BY x.device_id`,
      [tenantId, of.deploymentId, of.wave ?? null],
    );
    if (rows.length === 0) {
      const known: unknown[] = await this.dataSource.query(`SELECT 1 FROM updates.deployments WHERE tenant_id = $1 AND id = $2`, [
        tenantId,
        of.deploymentId,
      ]);
      if (known.length === 0) return null;
    }
    return rows.map((r) => r.device_id);
  }

  /**
   * A new deployment for a group: released images of this tenant, at most
   * one per component, all for the same hardware, rolled out by `plan` (its
   * waves drawn over the group's devices now; devices that join later are in
   * the last wave). It supersedes the group's current deployment in the
   * same transaction.
   */
  async deploy(tenantId: string, groupId: string, imageIds: readonly string[], planInput: unknown = {}): Promise<Deployment> {
    if (imageIds.length === 0) throw new FleetError(ErrorCode.badRequest, 'a deployment needs at least one image');
    const parsed = RolloutPlanSchema.safeParse(planInput);
    if (!parsed.success)
      throw new FleetError(
        ErrorCode.badRequest,
        `rollout: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    const plan = parsed.data;
    return this.dataSource
      .transaction(async (tx) => {
        await this.group(tenantId, groupId, tx);
        const images: ImageRow[] = [];
        for (const sha256 of new Set(imageIds)) {
          const image = await this.images.find(tenantId, sha256, tx);
          if (image === undefined) throw new FleetError(ErrorCode.notFound, `no image ${sha256}`);
          if (image.status !== 'released') throw new FleetError(ErrorCode.conflict, `image ${sha256} is ${image.status}, not released`);
          images.push(image);
        }
        const components = new Set(images.map((i) => i.component));
        if (components.size !== images.length) throw new FleetError(ErrorCode.badRequest, 'one image per component');
        if (new Set(images.map((i) => i.hardware)).size > 1)
          throw new FleetError(ErrorCode.badRequest, 'every image must be for the same hardware');
        await tx.query(`SELECT pg_advisory_xact_lock(hashtext('rampart.updates.group:' || $1))`, [groupId]);
        await tx.query(
          `UPDATE updates.deployments SET state = 'superseded', ended_at = now(), reason = 'a newer deployment'
          WHERE group_id = $1 AND state IN ('active', 'paused', 'completed')`,
          [groupId],
        );
        const id = randomUUID();
        const members: Array<{ device_id: string }> = await tx.query(`SELECT device_id FROM updates.group_members WHERE group_id = $1`, [
          groupId,
        ]);
        const assignment = assignWaves(
          id,
          members.map((m) => m.device_id),
          plan,
        );
        const rows: DeploymentSqlRow[] = await tx.query(
          `INSERT INTO updates.deployments (id, tenant_id, group_id, images, state, rollout, waves) VALUES ($1, $2, $3, $4, 'active', $5, $6)
         RETURNING ${DEPLOYMENT_COLUMNS}`,
          [id, tenantId, groupId, images.map((i) => i.sha256), JSON.stringify(plan), assignment.waves],
        );
        await tx.query(
          `INSERT INTO updates.deployment_devices (deployment_id, device_id, wave, state)
         SELECT $1, d, w, 'pending' FROM unnest($2::text[], $3::int[]) AS t(d, w)`,
          [id, [...assignment.wave.keys()], [...assignment.wave.values()]],
        );
        this.logger.info({ tenantId, groupId, deploymentId: id, images: images.length, waves: assignment.waves }, 'deployment created');
        return { created: deployment(rows[0]!), firstWave: [...assignment.wave].filter(([, w]) => w === 0).map(([device]) => device) };
      })
      .then(async ({ created, firstWave }) => {
        await this.tell(firstWave);
        return created;
      });
  }

  /** A notice that fails is not an error: devices also check after every attestation. */
  private async tell(deviceIds: readonly string[]): Promise<void> {
    if (deviceIds.length === 0) return;
    await this.notify(deviceIds).catch((error: unknown) =>
      this.logger.warn({ err: error }, 'devices not told of an update; they learn at their next check'),
    );
  }

  async deployments(tenantId: string, groupId: string): Promise<Deployment[]> {
    const rows: DeploymentSqlRow[] = await this.dataSource.query(
      `SELECT ${DEPLOYMENT_COLUMNS} FROM updates.deployments
        WHERE tenant_id = $1 AND group_id = $2 ORDER BY created_at DESC, id`,
      [tenantId, groupId],
    );
    return rows.map(deployment);
  }

  async deploymentById(tenantId: string, id: string): Promise<Deployment> {
    const rows: DeploymentSqlRow[] = await this.dataSource.query(
      `SELECT ${DEPLOYMENT_COLUMNS} FROM updates.deployments WHERE tenant_id = $1 AND id = $2`,
      [tenantId, id],
    );
    if (rows[0] === undefined) throw new FleetError(ErrorCode.notFound, 'no such deployment');
    return deployment(rows[0]);
  }

  /** Pause, resume, abort or roll back by hand (with the reason kept in the history). */
  async act(tenantId: string, id: string, action: keyof typeof MANUAL, reason: string): Promise<Deployment> {
    const current = await this.deploymentById(tenantId, id);
    const rule = MANUAL[action];
    if (!rule.from.includes(current.state)) throw new FleetError(ErrorCode.conflict, `a ${current.state} deployment cannot ${action}`);
    const ends = rule.to === 'aborted' || rule.to === 'rolled-back';
    // Resuming accepts the open waves as they stand: the gates judge only the waves opened after (or they would pause it again).
    const [rows]: [DeploymentSqlRow[], number] = await this.dataSource.query(
      `UPDATE updates.deployments SET state = $3, reason = $4, ended_at = CASE WHEN $5 THEN now() ELSE ended_at END,
              gates_from_wave = CASE WHEN $7 THEN current_wave + 1 ELSE gates_from_wave END
        WHERE tenant_id = $1 AND id = $2 AND state = ANY($6)
        RETURNING ${DEPLOYMENT_COLUMNS}`,
      [tenantId, id, rule.to, reason, ends, rule.from, action === 'resume'],
    );
    if (rows[0] === undefined) throw new FleetError(ErrorCode.conflict, 'the deployment changed meanwhile; try again');
    this.logger.info({ tenantId, deploymentId: id, action, reason }, 'deployment changed by hand');
    // Whoever it reached learns what to run now.
    const reached: Array<{ device_id: string }> = await this.dataSource.query(
      `SELECT device_id FROM updates.deployment_devices WHERE deployment_id = $1 AND state <> 'pending'`,
      [id],
    );
    await this.tell(reached.map((r) => r.device_id));
    return deployment(rows[0]);
  }

  /** What each device reported for a deployment, with counts per state. */
  async status(tenantId: string, id: string): Promise<{ deployment: Deployment; counts: Record<string, number>; devices: unknown[] }> {
    const current = await this.deploymentById(tenantId, id);
    const devices: Array<{
      device_id: string;
      wave: number;
      state: string;
      attempts: number;
      detail: string | null;
      notified_at: Date | null;
      first_offered_at: Date | null;
      deferred_until: Date | null;
      updated_at: Date;
    }> = await this.dataSource.query(
      `SELECT device_id, wave, state, attempts, detail, notified_at, first_offered_at, deferred_until, updated_at FROM updates.deployment_devices
        WHERE deployment_id = $1 ORDER BY wave, device_id`,
      [id],
    );
    const members = await this.members(tenantId, current.groupId);
    const counts: Record<string, number> = {
      members: members.length,
      pending: 0,
      notified: 0,
      installed: 0,
      failed: 0,
      'timed-out': 0,
      deferred: 0,
    };
    for (const d of devices) counts[d.state] = (counts[d.state] ?? 0) + 1;
    return {
      deployment: current,
      counts,
      devices: devices.map((d) => ({
        deviceId: d.device_id,
        wave: d.wave,
        state: d.state,
        attempts: d.attempts,
        detail: d.detail,
        notifiedAt: d.notified_at === null ? null : new Date(d.notified_at).toISOString(),
        firstOfferedAt: d.first_offered_at === null ? null : new Date(d.first_offered_at).toISOString(),
        ...(d.state === 'deferred' && d.deferred_until !== null ? { deferredUntil: new Date(d.deferred_until).toISOString() } : {}),
        updatedAt: new Date(d.updated_at).toISOString(),
      })),
    };
  }

  private async insertGroup(
    tx: EntityManager,
    tenantId: string,
    productId: string,
    name: string,
    policy: UpdatePolicy,
    feed: OsFeed,
  ): Promise<string> {
    const id = randomUUID();
    const inserted: unknown[] = await tx.query(
      `INSERT INTO updates.device_groups (id, tenant_id, product_id, name, update_policy, os_feed) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT DO NOTHING RETURNING id`,
      [id, tenantId, productId, name, policy, feed],
    );
    if (inserted.length === 0) throw new FleetError(ErrorCode.conflict, `a group named ${JSON.stringify(name)} exists in this product`);
    return id;
  }
}
