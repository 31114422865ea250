import { randomUUID } from 'node:crypto';
import { createLogger, openDatabase } from '@rampart/service-kit';
import { createTestDatabase, type TestDatabase } from '@rampart/testing';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeploymentRepository } from '../src/fleet/deployment.repository.js';
import { FleetRepository } from '../src/fleet/fleet.repository.js';
import { RolloutPlanSchema } from '../src/fleet/rollout-plan.js';
import { updatesDatabase } from '../src/migrations/index.js';
import { Transactions } from '../src/persistence/transactions.js';

const device = (n: number) => n.toString(16).padStart(64, '0');
const plan = RolloutPlanSchema.parse({});

/** The SQL the rollout engine and the director run on deployments, on real PostgreSQL. */
describe(DeploymentRepository.name, () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let fleet: FleetRepository;
  let deployments: DeploymentRepository;
  let transactions: Transactions;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await openDatabase({ ...updatesDatabase, url: db.url, poolSize: 4 }, createLogger('updates', 'silent'));
    fleet = new FleetRepository(dataSource);
    deployments = new DeploymentRepository(dataSource);
    transactions = new Transactions(dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  /** A new group of `tenantId` with a deployment of `images` drawing `waveOf`. */
  async function deployment(tenantId: string, waveOf: Map<string, number>, groupId?: string): Promise<{ id: string; groupId: string }> {
    const group = groupId ?? randomUUID();
    if (groupId === undefined) {
      const productId = randomUUID();
      await transactions.run(async (tx) => {
        await fleet.insertProduct({ id: productId, tenantId, name: productId, description: '' }, tx);
        await fleet.insertGroup({ id: group, tenantId, productId, name: 'g', updatePolicy: 'all', osFeed: 'retail' }, tx);
      });
    }
    const id = randomUUID();
    const waves = Math.max(0, ...waveOf.values()) + 1;
    await transactions.run((tx) => deployments.insert({ id, tenantId, groupId: group, images: [id], plan, waves, waveOf }, tx));
    return { id, groupId: group };
  }

  const deviceRows = async (id: string) =>
    Object.fromEntries(
      (await deployments.devices(id)).map((d) => [d.device_id, { state: d.state, attempts: d.attempts, detail: d.detail }]),
    );

  it('offers again a device that did not answer in time while it has attempts left, times it out after, and leaves one told lately alone', async () => {
    const { id } = await deployment(
      'acme',
      new Map([
        [device(1), 0],
        [device(2), 0],
        [device(3), 0],
      ]),
    );
    await dataSource.query(
      `UPDATE updates.deployment_devices SET state = 'notified', notified_at = now() - interval '10 minutes',
              attempts = CASE device_id WHEN $2 THEN 2 ELSE 0 END WHERE deployment_id = $1`,
      [id, device(2)],
    );
    await dataSource.query(`UPDATE updates.deployment_devices SET notified_at = now() WHERE deployment_id = $1 AND device_id = $2`, [
      id,
      device(3),
    ]);
    await transactions.run((tx) => deployments.retryOrTimeOutUnanswered(id, 2, 60, tx));
    expect(await deviceRows(id)).toEqual({
      [device(1)]: { state: 'pending', attempts: 1, detail: null },
      [device(2)]: { state: 'timed-out', attempts: 2, detail: 'no answer in time' },
      [device(3)]: { state: 'notified', attempts: 0, detail: null },
    });
  });

  it('ends deferrals that ran out and keeps the others', async () => {
    const { id } = await deployment(
      'acme',
      new Map([
        [device(1), 0],
        [device(2), 0],
      ]),
    );
    await dataSource.query(
      `UPDATE updates.deployment_devices SET state = 'deferred',
              deferred_until = CASE device_id WHEN $2 THEN now() - interval '1 minute' ELSE now() + interval '1 hour' END
        WHERE deployment_id = $1`,
      [id, device(1)],
    );
    await transactions.run((tx) => deployments.endExpiredDeferrals(id, tx));
    const rows = await deployments.devices(id);
    expect(rows.map((r) => [r.device_id, r.state, r.deferred_until === null])).toEqual([
      [device(1), 'pending', true],
      [device(2), 'deferred', false],
    ]);
  });

  it('opens a wave and answers its devices; reads only the open waves', async () => {
    const { id } = await deployment(
      'acme',
      new Map([
        [device(1), 0],
        [device(2), 1],
        [device(3), 1],
      ]),
    );
    expect(await transactions.run((tx) => deployments.openWaveDevices(id, 0, tx))).toEqual([
      { device_id: device(1), wave: 0, state: 'pending' },
    ]);
    expect((await transactions.run((tx) => deployments.openWave(id, 1, tx))).sort()).toEqual([device(2), device(3)]);
    expect(await transactions.run((tx) => deployments.activeById(id, 0, tx))).toBeUndefined();
    expect((await transactions.run((tx) => deployments.activeById(id, 1, tx)))?.current_wave).toBe(1);
  });

  it('gives the rollout lock of a deployment to one transaction at a time', async () => {
    const { id } = await deployment('acme', new Map([[device(1), 0]]));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const taken = new Promise<void>((resolve) => (locked = resolve));
    const first = transactions.run(async (tx) => {
      const got = await deployments.tryLockRollout(id, tx);
      locked();
      await held;
      return got;
    });
    await taken;
    expect(await transactions.run((tx) => deployments.tryLockRollout(id, tx))).toBe(false);
    release();
    expect(await first).toBe(true);
    expect(await transactions.run((tx) => deployments.tryLockRollout(id, tx))).toBe(true);
  });

  it('runs one transaction across repositories: a group and its deployment commit together, or neither does', async () => {
    const [tenantId, productId, groupId, id] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const failure = new Error('the deployment step failed');
    await expect(
      transactions.run(async (tx) => {
        await fleet.insertProduct({ id: productId, tenantId, name: productId, description: '' }, tx);
        await fleet.insertGroup({ id: groupId, tenantId, productId, name: 'g', updatePolicy: 'all', osFeed: 'retail' }, tx);
        await deployments.insert({ id, tenantId, groupId, images: [id], plan, waves: 1, waveOf: new Map([[device(1), 0]]) }, tx);
        // Both writes are visible inside the transaction, through either repository.
        expect(await fleet.memberIds(groupId, tx)).toEqual([]);
        expect((await deployments.activeById(id, 0, tx))?.group_id).toBe(groupId);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await fleet.groups(tenantId)).toEqual([]);
    expect(await deployments.find(tenantId, id)).toBeUndefined();

    await transactions.run(async (tx) => {
      await fleet.insertProduct({ id: productId, tenantId, name: productId, description: '' }, tx);
      await fleet.insertGroup({ id: groupId, tenantId, productId, name: 'g', updatePolicy: 'all', osFeed: 'retail' }, tx);
      await deployments.insert({ id, tenantId, groupId, images: [id], plan, waves: 1, waveOf: new Map([[device(1), 0]]) }, tx);
    });
    expect((await fleet.groups(tenantId)).map((g) => g.id)).toEqual([groupId]);
    expect((await deployments.find(tenantId, id))?.groupId).toBe(groupId);
  });

  it("finds the images of the group's deployment before, superseded or completed, never one rolled back", async () => {
    const first = await deployment('acme', new Map());
    const rolledBack = await deployment('acme', new Map(), first.groupId);
    const current = await deployment('acme', new Map(), first.groupId);
    const age = (id: string, minutes: number, state: string) =>
      dataSource.query(`UPDATE updates.deployments SET created_at = now() - make_interval(mins => $2), state = $3 WHERE id = $1`, [
        id,
        minutes,
        state,
      ]);
    await age(first.id, 30, 'superseded');
    await age(rolledBack.id, 20, 'rolled-back');
    await age(current.id, 10, 'active');
    const createdAt = async (id: string): Promise<Date> => {
      const rows: Array<{ created_at: Date }> = await dataSource.query(`SELECT created_at FROM updates.deployments WHERE id = $1`, [id]);
      return rows[0]!.created_at;
    };
    expect(await deployments.previousImages(first.groupId, await createdAt(current.id))).toEqual([first.id]);
    expect(await deployments.previousImages(first.groupId, await createdAt(first.id))).toBeUndefined();
  });

  it("answers a deployment's devices (of one wave) to its tenant only: none drawn is an empty list, another tenant's is null", async () => {
    const { id } = await deployment(
      'acme',
      new Map([
        [device(2), 0],
        [device(1), 0],
        [device(3), 1],
      ]),
    );
    expect(await deployments.cohortDevices('acme', id, undefined)).toEqual([device(1), device(2), device(3)]);
    expect(await deployments.cohortDevices('acme', id, 1)).toEqual([device(3)]);
    expect(await deployments.cohortDevices('acme', id, 5)).toEqual([]);
    expect(await deployments.cohortDevices('globex', id, undefined)).toBeNull();
    expect(await deployments.cohortDevices('acme', randomUUID(), undefined)).toBeNull();
  });

  it('moves a deployment by hand only from the states allowed, and a resume makes the gates judge only later waves', async () => {
    const { id } = await deployment('acme', new Map([[device(1), 0]]));
    const pause: Parameters<DeploymentRepository['transition']>[2] = {
      from: ['active'],
      to: 'paused',
      reason: 'look',
      ends: false,
      resumes: false,
    };
    expect(await deployments.transition('globex', id, pause)).toBeUndefined();
    expect((await deployments.transition('acme', id, pause))?.state).toBe('paused');
    expect(await deployments.transition('acme', id, pause)).toBeUndefined();
    const resumed = await deployments.transition('acme', id, { from: ['paused'], to: 'active', reason: 'ok', ends: false, resumes: true });
    expect(resumed).toMatchObject({ state: 'active', reason: 'ok', endedAt: null });
    expect((await transactions.run((tx) => deployments.activeById(id, undefined, tx)))?.gates_from_wave).toBe(1);
  });
});
