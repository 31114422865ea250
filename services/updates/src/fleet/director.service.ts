import type { ImageRow, ImagesRepository } from '../images/images.repository.js';
import type { TenantMetadata } from '../tuf/tenant-metadata.js';
import type { DeploymentForDevice as HistoryRow, DeploymentRepository } from './deployment.repository.js';
import type { FleetRepository } from './fleet.repository.js';

/** A device may put an update off, but never for more than this after it was first offered. */
export const MAX_DEFERRAL_MS = 24 * 3_600_000;

export type DeviceReport =
  | { readonly state: 'installed' | 'failed'; readonly detail: string }
  | { readonly state: 'deferred'; readonly minutes: number; readonly detail: string };

/**
 * Uptane's director: what one device should run. Its group's deployments,
 * newest first, the first that applies to it:
 *  - active or completed: once its wave is open, it is not putting the
 *    update off, and (for a first offer) the group's maintenance window is
 *    open; a device that failed or timed out on it is not offered it again;
 *  - paused: only if it was already offered it;
 *  - superseded: if it was offered it or its wave had opened;
 *  - aborted, rolled back: never.
 * A revoked image is never directed; the group's policy filters the rest.
 * When that deployment names no OS (or there is none), the newest OS on the
 * group's feed for the device's hardware is added (`osFeed` in the answer):
 * OS releases reach every group without a deployment, early evaluators
 * first. Signed per device.
 */
export class DirectorService {
  constructor(
    private readonly fleet: FleetRepository,
    private readonly deployments: DeploymentRepository,
    private readonly images: ImagesRepository,
    private readonly metadata: TenantMetadata,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * `hardware` is what the device says it is: it only picks which feed OS to offer, and the device itself
   * refuses an image for other hardware, so a device that lies only hurts itself.
   */
  async targetsFor(tenantId: string, deviceId: string, hardware?: string): Promise<Buffer> {
    const group = await this.fleet.membership(tenantId, deviceId);
    if (group === undefined || group.update_policy === 'none') return this.metadata.direct(tenantId, deviceId, [], { deployment: null });
    const history = await this.deployments.forDevice(group.group_id, deviceId);
    const now = this.now();
    const inWindow = group.window_start === null || group.window_end === null || withinWindow(now, group.window_start, group.window_end);
    let chosen: HistoryRow | undefined;
    for (const d of history) {
      if (await this.applies(d, deviceId, inWindow, now)) {
        chosen = d;
        break;
      }
    }
    const images: ImageRow[] = [];
    for (const sha256 of chosen?.images ?? []) {
      const image = await this.images.find(tenantId, sha256);
      if (image?.status !== 'released') continue;
      if (group.update_policy === 'no-app-updates' && image.component.startsWith('app:')) continue;
      images.push(image);
    }
    // A deployment that names an OS decides the OS; otherwise the group's feed does.
    let feedOs: ImageRow | undefined;
    if (hardware !== undefined && !images.some((i) => i.component === 'os')) {
      feedOs = await this.images.feedOs(tenantId, hardware, group.os_feed === 'retail-eval' ? ['retail', 'retail-eval'] : ['retail']);
      if (feedOs !== undefined) images.push(feedOs);
    }
    return this.metadata.direct(tenantId, deviceId, images, {
      deployment: chosen?.id ?? null,
      ...(feedOs === undefined ? {} : { osFeed: group.os_feed }),
    });
  }

  private async applies(d: HistoryRow, deviceId: string, inWindow: boolean, now: Date): Promise<boolean> {
    const reached = d.device_state === 'notified' || d.device_state === 'installed';
    switch (d.state) {
      case 'aborted':
      case 'rolled-back':
        return false;
      case 'paused':
        return reached;
      case 'superseded':
        return reached || (d.wave !== null && d.wave <= d.current_wave);
      case 'active':
      case 'completed': {
        if (reached) return true;
        if (d.device_state === 'failed' || d.device_state === 'timed-out') return false;
        if (d.device_state === 'deferred' && d.deferred_until !== null && new Date(d.deferred_until) > now) return false;
        // A device that joined the group after the deployment was drawn goes in its last wave.
        const wave = d.wave ?? d.waves - 1;
        if (wave > d.current_wave || !inWindow) return false;
        await this.deployments.markOffered(d.id, deviceId, wave);
        return true;
      }
    }
  }

  /**
   * A device's report on a deployment it was offered: installed, failed
   * (with why), or deferred for some minutes — bounded so that it is offered
   * again no later than `MAX_DEFERRAL_MS` after the first offer.
   */
  async report(tenantId: string, deviceId: string, deploymentId: string, report: DeviceReport): Promise<boolean> {
    // A deferral ends after the minutes asked for, and never later than MAX_DEFERRAL_MS after the first offer.
    return this.deployments.recordReport(tenantId, deviceId, deploymentId, {
      state: report.state,
      detail: report.detail.slice(0, 500),
      deferMinutes: report.state === 'deferred' ? Math.round(report.minutes) : 0,
      maxDeferralSecs: MAX_DEFERRAL_MS / 1000,
    });
  }
}

function withinWindow(now: Date, start: number, end: number): boolean {
  const hour = now.getUTCHours();
  return start < end ? hour >= start && hour < end : hour >= start || hour < end;
}
