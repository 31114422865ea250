import { randomUUID } from 'node:crypto';
import { ErrorCode, Subject } from '@rampart/contracts';
import { DomainError, type Logger, type TypedBus } from '@rampart/service-kit';
import type { ImageRow, ImagesRepository, OsFeed } from '../images/images.repository.js';
import type { Transactions, Tx } from '../persistence/transactions.js';
import type { Deployment, DeploymentRepository, DeploymentState } from './deployment.repository.js';
import type { DeviceGroup, FleetRepository, Product, UpdatePolicy } from './fleet.repository.js';
import { RolloutPlanSchema, assignWaves } from './rollout-plan.js';

export type { Deployment, DeploymentState, DeviceGroup, OsFeed, Product, UpdatePolicy };

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
    private readonly transactions: Transactions,
    private readonly fleetRows: FleetRepository,
    private readonly deploymentRows: DeploymentRepository,
    private readonly images: ImagesRepository,
    private readonly bus: TypedBus,
    private readonly logger: Logger,
    /** Tells devices to check for updates now (over MQTT, through the gateways). */
    private readonly notify: (deviceIds: readonly string[]) => Promise<void> = () => Promise.resolve(),
  ) {}

  async createProduct(tenantId: string, name: string, description: string): Promise<{ product: Product; groups: DeviceGroup[] }> {
    return this.transactions.run(async (tx) => {
      const id = randomUUID();
      if (!(await this.fleetRows.insertProduct({ id, tenantId, name, description }, tx)))
        throw new FleetError(ErrorCode.conflict, `a product named ${JSON.stringify(name)} exists`);
      for (const group of DEFAULT_GROUPS) await this.insertGroup(tx, tenantId, id, group.name, group.updatePolicy, group.osFeed);
      return {
        product: (await this.fleetRows.products(tenantId, tx)).find((p) => p.id === id)!,
        groups: await this.fleetRows.groups(tenantId, id, tx),
      };
    });
  }

  async createGroup(tenantId: string, productId: string, name: string, updatePolicy: UpdatePolicy, osFeed: OsFeed): Promise<DeviceGroup> {
    return this.transactions.run(async (tx) => {
      if (!(await this.fleetRows.products(tenantId, tx)).some((p) => p.id === productId))
        throw new FleetError(ErrorCode.notFound, 'no such product');
      const id = await this.insertGroup(tx, tenantId, productId, name, updatePolicy, osFeed);
      return (await this.fleetRows.groups(tenantId, productId, tx)).find((g) => g.id === id)!;
    });
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
    await this.fleetRows.setGroupSettings(tenantId, groupId, {
      updatePolicy: change.updatePolicy ?? current.updatePolicy,
      osFeed: change.osFeed ?? current.osFeed,
      window: change.window === undefined ? current.window : change.window,
    });
    return this.group(tenantId, groupId);
  }

  /** One of the tenant's groups (read in `tx`, if given); another tenant's answers 404 like an unknown one. */
  async group(tenantId: string, groupId: string, tx?: Tx): Promise<DeviceGroup> {
    const group = (await this.fleetRows.groups(tenantId, undefined, tx)).find((g) => g.id === groupId);
    if (group === undefined) throw new FleetError(ErrorCode.notFound, 'no such device group');
    return group;
  }

  /** Puts a device the tenant has claimed into one of its groups (a device is in one group at a time). */
  async assign(tenantId: string, groupId: string, deviceId: string): Promise<void> {
    await this.group(tenantId, groupId);
    const { tenantId: claimedBy } = await this.bus.request(Subject.attestationDeviceTenant, { deviceId });
    // A device another tenant claimed answers exactly like one nobody claimed.
    if (claimedBy !== tenantId) throw new FleetError(ErrorCode.notFound, 'no such device in this tenant');
    await this.fleetRows.assign(tenantId, groupId, deviceId);
  }

  /** The devices of one of the tenant's groups; another tenant's group answers 404 like an unknown one, never an empty list. */
  async members(tenantId: string, groupId: string): Promise<string[]> {
    await this.group(tenantId, groupId);
    return this.fleetRows.members(tenantId, groupId);
  }

  /** A group's members, or the devices a deployment drew (one wave of them); null if not this tenant's. */
  async cohortDevices(
    tenantId: string,
    of: { groupId?: string | undefined; deploymentId?: string | undefined; wave?: number | undefined },
  ): Promise<string[] | null> {
    if (of.groupId !== undefined) {
      if (!(await this.fleetRows.groups(tenantId)).some((g) => g.id === of.groupId)) return null;
      return this.members(tenantId, of.groupId);
    }
    return this.deploymentRows.cohortDevices(tenantId, of.deploymentId, of.wave);
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
    return this.transactions
      .run(async (tx) => {
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
        await this.deploymentRows.lockGroup(groupId, tx);
        await this.deploymentRows.supersedeCurrent(groupId, tx);
        const id = randomUUID();
        const assignment = assignWaves(id, await this.fleetRows.memberIds(groupId, tx), plan);
        const created = await this.deploymentRows.insert(
          { id, tenantId, groupId, images: images.map((i) => i.sha256), plan, waves: assignment.waves, waveOf: assignment.wave },
          tx,
        );
        this.logger.info({ tenantId, groupId, deploymentId: id, images: images.length, waves: assignment.waves }, 'deployment created');
        return { created, firstWave: [...assignment.wave].filter(([, w]) => w === 0).map(([device]) => device) };
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
    return this.deploymentRows.forGroup(tenantId, groupId);
  }

  async deploymentById(tenantId: string, id: string): Promise<Deployment> {
    const found = await this.deploymentRows.find(tenantId, id);
    if (found === undefined) throw new FleetError(ErrorCode.notFound, 'no such deployment');
    return found;
  }

  /** Pause, resume, abort or roll back by hand (with the reason kept in the history). */
  async act(tenantId: string, id: string, action: keyof typeof MANUAL, reason: string): Promise<Deployment> {
    const current = await this.deploymentById(tenantId, id);
    const rule = MANUAL[action];
    if (!rule.from.includes(current.state)) throw new FleetError(ErrorCode.conflict, `a ${current.state} deployment cannot ${action}`);
    const ends = rule.to === 'aborted' || rule.to === 'rolled-back';
    // Resuming accepts the open waves as they stand: the gates judge only the waves opened after (or they would pause it again).
    const moved = await this.deploymentRows.transition(tenantId, id, {
      from: rule.from,
      to: rule.to,
      reason,
      ends,
      resumes: action === 'resume',
    });
    if (moved === undefined) throw new FleetError(ErrorCode.conflict, 'the deployment changed meanwhile; try again');
    this.logger.info({ tenantId, deploymentId: id, action, reason }, 'deployment changed by hand');
    // Whoever it reached learns what to run now.
    await this.tell(await this.deploymentRows.reachedDevices(id));
    return moved;
  }

  /** What each device reported for a deployment, with counts per state. */
  async status(tenantId: string, id: string): Promise<{ deployment: Deployment; counts: Record<string, number>; devices: unknown[] }> {
    const current = await this.deploymentById(tenantId, id);
    const devices = await this.deploymentRows.devices(id);
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
    tx: Tx,
    tenantId: string,
    productId: string,
    name: string,
    updatePolicy: UpdatePolicy,
    osFeed: OsFeed,
  ): Promise<string> {
    const id = randomUUID();
    if (!(await this.fleetRows.insertGroup({ id, tenantId, productId, name, updatePolicy, osFeed }, tx)))
      throw new FleetError(ErrorCode.conflict, `a group named ${JSON.stringify(name)} exists in this product`);
    return id;
  }
}
