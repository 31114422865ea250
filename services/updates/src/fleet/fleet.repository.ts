import type { DataSource } from 'typeorm';
import { executor, type Tx } from '../persistence/transactions.js';
import type { OsFeed } from '../images/images.repository.js';

export type UpdatePolicy = 'all' | 'no-app-updates' | 'none';

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

/** The group a device is in, with what the director needs of it. */
export interface Membership {
  readonly group_id: string;
  readonly update_policy: UpdatePolicy;
  readonly os_feed: OsFeed;
  readonly window_start: number | null;
  readonly window_end: number | null;
}

/**
 * All SQL of products, device groups and group membership. Tenant-scoped
 * reads take the tenant id and never return another's rows. Methods that
 * take a `Tx` run in the caller's transaction.
 */
export class FleetRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** False if the tenant has a product of that name already. */
  async insertProduct(product: { id: string; tenantId: string; name: string; description: string }, tx: Tx): Promise<boolean> {
    const inserted: unknown[] = await executor(this.dataSource, tx).query(
      `INSERT INTO updates.products (id, tenant_id, name, description) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id`,
      [product.id, product.tenantId, product.name, product.description],
    );
    return inserted.length > 0;
  }

  async products(tenantId: string, tx?: Tx): Promise<Product[]> {
    const rows: Array<{ id: string; name: string; description: string; created_at: Date }> = await executor(this.dataSource, tx).query(
      `SELECT id, name, description, created_at FROM updates.products WHERE tenant_id = $1 ORDER BY name`,
      [tenantId],
    );
    return rows.map((r) => ({ id: r.id, name: r.name, description: r.description, createdAt: new Date(r.created_at).toISOString() }));
  }

  /** False if the product has a group of that name already. */
  async insertGroup(
    group: { id: string; tenantId: string; productId: string; name: string; updatePolicy: UpdatePolicy; osFeed: OsFeed },
    tx: Tx,
  ): Promise<boolean> {
    const inserted: unknown[] = await executor(this.dataSource, tx).query(
      `INSERT INTO updates.device_groups (id, tenant_id, product_id, name, update_policy, os_feed) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT DO NOTHING RETURNING id`,
      [group.id, group.tenantId, group.productId, group.name, group.updatePolicy, group.osFeed],
    );
    return inserted.length > 0;
  }

  /** The tenant's groups (of one product, if given), by product and age. */
  async groups(tenantId: string, productId?: string, tx?: Tx): Promise<DeviceGroup[]> {
    const rows: Array<{
      id: string;
      product_id: string;
      name: string;
      update_policy: UpdatePolicy;
      os_feed: OsFeed;
      window_start: number | null;
      window_end: number | null;
      created_at: Date;
    }> = await executor(this.dataSource, tx).query(
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

  /** Sets every setting of a group at once (the caller merges a change into the current settings). */
  async setGroupSettings(
    tenantId: string,
    groupId: string,
    settings: { updatePolicy: UpdatePolicy; osFeed: OsFeed; window: { startHour: number; endHour: number } | null },
  ): Promise<void> {
    await this.dataSource.query(
      `UPDATE updates.device_groups SET update_policy = $3, os_feed = $4, window_start = $5, window_end = $6 WHERE tenant_id = $1 AND id = $2`,
      [tenantId, groupId, settings.updatePolicy, settings.osFeed, settings.window?.startHour ?? null, settings.window?.endHour ?? null],
    );
  }

  /** Puts a device into a group, moving it out of the one it was in (a device is in one group at a time). */
  async assign(tenantId: string, groupId: string, deviceId: string): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO updates.group_members (device_id, tenant_id, group_id) VALUES ($1, $2, $3)
       ON CONFLICT (device_id) DO UPDATE SET group_id = excluded.group_id, assigned_at = now()`,
      [deviceId, tenantId, groupId],
    );
  }

  /** The devices of one of the tenant's groups, in device id order. */
  async members(tenantId: string, groupId: string): Promise<string[]> {
    const rows: Array<{ device_id: string }> = await this.dataSource.query(
      `SELECT device_id FROM updates.group_members WHERE tenant_id = $1 AND group_id = $2 ORDER BY device_id`,
      [tenantId, groupId],
    );
    return rows.map((r) => r.device_id);
  }

  /** The devices of a group as `tx` sees them (the caller has checked the group is the tenant's). */
  async memberIds(groupId: string, tx: Tx): Promise<string[]> {
    const members: Array<{ device_id: string }> = await executor(this.dataSource, tx).query(
      `SELECT device_id FROM updates.group_members WHERE group_id = $1`,
      [groupId],
    );
    return members.map((m) => m.device_id);
  }

  /** The tenant's group a device is in, if any. */
  async membership(tenantId: string, deviceId: string): Promise<Membership | undefined> {
    const member: Membership[] = await this.dataSource.query(
      `SELECT m.group_id, g.update_policy, g.os_feed, g.window_start, g.window_end FROM updates.group_members m
           JOIN updates.device_groups g ON g.id = m.group_id
          WHERE m.device_id = $1 AND m.tenant_id = $2`,
      [deviceId, tenantId],
    );
    return member[0];
  }
}
