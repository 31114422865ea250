import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The fleet model: products, their device groups (each with an update
 * policy and an OS feed), which group each device is in, and deployments —
 * immutable image sets for a group, kept as history — with each device's
 * state in them.
 */
export class Fleet1734000000001 implements MigrationInterface {
  name = 'Fleet1734000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE updates.products (
        id          text PRIMARY KEY,
        tenant_id   text NOT NULL,
        name        text NOT NULL,
        description text NOT NULL DEFAULT '',
        created_at  timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant_id, name))`);
    await q.query(`
      CREATE TABLE updates.device_groups (
        id            text PRIMARY KEY,
        tenant_id     text NOT NULL,
        product_id    text NOT NULL REFERENCES updates.products (id),
        name          text NOT NULL,
        update_policy text NOT NULL CHECK (update_policy IN ('all', 'no-app-updates', 'none')),
        os_feed       text NOT NULL CHECK (os_feed IN ('retail', 'retail-eval')),
        -- Updates are offered only inside this daily window (UTC hours, start inclusive, end exclusive); null: any time.
        window_start  smallint CHECK (window_start BETWEEN 0 AND 23),
        window_end    smallint CHECK (window_end BETWEEN 0 AND 24),
        created_at    timestamptz NOT NULL DEFAULT now(),
        UNIQUE (product_id, name))`);
    await q.query(`
      CREATE TABLE updates.group_members (
        device_id   text PRIMARY KEY,
        tenant_id   text NOT NULL,
        group_id    text NOT NULL REFERENCES updates.device_groups (id),
        assigned_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE INDEX group_members_group ON updates.group_members (group_id)`);
    await q.query(`
      CREATE TABLE updates.deployments (
        id          text PRIMARY KEY,
        tenant_id   text NOT NULL,
        group_id    text NOT NULL REFERENCES updates.device_groups (id),
        images      text[] NOT NULL,
        state       text NOT NULL CHECK (state IN ('active', 'paused', 'aborted', 'superseded', 'rolled-back', 'completed')),
        -- Waves, gates and abort criteria (see rollout-plan.ts); the wave open now and since when.
        rollout         jsonb NOT NULL,
        current_wave    integer NOT NULL DEFAULT 0,
        waves           integer NOT NULL,
        wave_started_at timestamptz NOT NULL DEFAULT now(),
        created_at  timestamptz NOT NULL DEFAULT now(),
        ended_at    timestamptz,
        reason      text)`);
    await q.query(`CREATE INDEX deployments_group ON updates.deployments (group_id, created_at DESC)`);
    await q.query(`
      CREATE TABLE updates.deployment_devices (
        deployment_id text NOT NULL REFERENCES updates.deployments (id),
        device_id     text NOT NULL,
        wave          integer NOT NULL,
        state         text NOT NULL CHECK (state IN ('pending', 'notified', 'installed', 'failed', 'timed-out', 'deferred')),
        attempts      integer NOT NULL DEFAULT 0,
        deferred_until timestamptz,
        notified_at   timestamptz,
        detail        text,
        updated_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (deployment_id, device_id))`);
    await q.query(`CREATE INDEX deployment_devices_state ON updates.deployment_devices (deployment_id, wave, state)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `DROP TABLE updates.deployment_devices, updates.deployments, updates.group_members, updates.device_groups, updates.products`,
    );
  }
}
