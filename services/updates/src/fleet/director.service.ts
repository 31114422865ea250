import type { DataSource } from 'typeorm';
import type { ImageRow, ImagesRepository } from '../images/images.repository.js';
import type { TenantMetadata } from '../tuf/tenant-metadata.js';
import type { DeploymentState, UpdatePolicy } from './fleet.service.js';

/**
 * Uptane's director: what one device should run, from its group's
 * deployments and update policy — the active deployment; while one is
 * paused, only devices it already reached keep it; an aborted or rolled-back
 * one sends everyone back to the one before. Signed per device.
 */
export class DirectorService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly images: ImagesRepository,
    private readonly metadata: TenantMetadata,
  ) {}

  async targetsFor(tenantId: string, deviceId: string): Promise<Buffer> {
    const member: Array<{ group_id: string; update_policy: UpdatePolicy }> = await this.dataSource.query(
      `SELECT m.group_id, g.update_policy FROM updates.group_members m JOIN updates.device_groups g ON g.id = m.group_id
        WHERE m.device_id = $1 AND m.tenant_id = $2`,
      [deviceId, tenantId],
    );
    const group = member[0];
    if (group === undefined || group.update_policy === 'none') return this.metadata.direct(tenantId, deviceId, [], { deployment: null });
    const history: Array<{ id: string; images: string[]; state: DeploymentState; reached: boolean }> = await this.dataSource.query(
      `SELECT d.id, d.images, d.state, EXISTS (SELECT 1 FROM updates.deployment_devices x WHERE x.deployment_id = d.id AND x.device_id = $2) AS reached
         FROM updates.deployments d WHERE d.group_id = $1 ORDER BY d.created_at DESC, d.id LIMIT 20`,
      [group.group_id, deviceId],
    );
    const chosen = history.find((d) => d.state === 'active' || (d.state === 'paused' && d.reached) || d.state === 'superseded');
    if (chosen === undefined) return this.metadata.direct(tenantId, deviceId, [], { deployment: null });
    const images: ImageRow[] = [];
    for (const sha256 of chosen.images) {
      const image = await this.images.find(tenantId, sha256);
      // A revoked image is never directed again, whatever the deployment said.
      if (image?.status !== 'released') continue;
      if (group.update_policy === 'no-app-updates' && image.component.startsWith('app:')) continue;
      images.push(image);
    }
    if (chosen.state === 'active') {
      await this.dataSource.query(
        `INSERT INTO updates.deployment_devices (deployment_id, device_id, state) VALUES ($1, $2, 'notified') ON CONFLICT DO NOTHING`,
        [chosen.id, deviceId],
      );
    }
    return this.metadata.direct(tenantId, deviceId, images, { deployment: chosen.id });
  }

  /** A device's report on a deployment it was directed to: installed, or failed with why. */
  async report(tenantId: string, deviceId: string, deploymentId: string, state: 'installed' | 'failed', detail: string): Promise<boolean> {
    const [, affected]: [unknown[], number] = await this.dataSource.query(
      `UPDATE updates.deployment_devices x SET state = $4, detail = $5, updated_at = now()
         FROM updates.deployments d
        WHERE x.deployment_id = $1 AND x.device_id = $2 AND d.id = x.deployment_id AND d.tenant_id = $3`,
      [deploymentId, deviceId, tenantId, state, detail.slice(0, 500)],
    );
    return affected === 1;
  }
}
