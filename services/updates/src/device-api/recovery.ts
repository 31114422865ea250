import type { RecoveryGrantReply } from '@rampart/contracts';
import type { ImageRow, ImagesRepository } from '../images/images.repository.js';
import type { TenantMetadata } from '../tuf/tenant-metadata.js';

/** What the attestation service granted a quarantined device: its tenant and the OS it runs. */
export interface RecoveryGrant {
  readonly tenantId: string;
  readonly osSecurityVersion: number;
  readonly osMeasurement: string;
}

/**
 * The recovery path's decisions, for a device that presents only its IDevID. The attestation service says
 * whether the device may recover (its last refusal was one a newer OS cures: every stage below the OS
 * known-good, the device claimed and not revoked); this says what it may have: the newest OS its tenant
 * released on the retail feed for its hardware, not below the security version it runs and not the OS it
 * runs (a revoked OS is cured by a fix of the same security version too) — signed for that device
 * by the tenant's director (`recovery: true`, no deployment), verified by the device as every update is.
 * No app image, no deployment, no group. It does get the tenant's signed metadata (root, timestamp, snapshot and
 * targets, which list the tenant's released images), because the director's answer is verified against it.
 */
export class RecoveryService {
  constructor(
    private readonly askGrant: (deviceId: string) => Promise<RecoveryGrantReply>,
    private readonly images: ImagesRepository,
    private readonly metadata: TenantMetadata,
  ) {}

  async grant(deviceId: string): Promise<RecoveryGrant | undefined> {
    const reply = await this.askGrant(deviceId);
    return reply.granted
      ? { tenantId: reply.tenantId, osSecurityVersion: reply.osSecurityVersion, osMeasurement: reply.osMeasurement }
      : undefined;
  }

  /** The director's targets for the device on the recovery path: the recovery OS, or nothing. */
  async director(grant: RecoveryGrant, deviceId: string, hardware: string | undefined): Promise<Buffer> {
    const os =
      hardware === undefined
        ? undefined
        : await this.images.recoveryOs(grant.tenantId, hardware, grant.osSecurityVersion, grant.osMeasurement);
    return this.metadata.direct(grant.tenantId, deviceId, os === undefined ? [] : [os], { deployment: null, recovery: true });
  }

  /** The tenant's TUF metadata the device needs to verify the director's answer (root, timestamp, snapshot, targets). */
  metadataFile(grant: RecoveryGrant, name: string): Promise<Buffer | undefined> {
    return this.metadata.file(grant.tenantId, name);
  }

  /** An image the device may download: only a recovery OS (released, retail, not below the one it runs nor that one). */
  async image(grant: RecoveryGrant, sha256: string): Promise<ImageRow | undefined> {
    const image = await this.images.find(grant.tenantId, sha256);
    const servable =
      image !== undefined &&
      image.status === 'released' &&
      image.component === 'os' &&
      image.osFeed === 'retail' &&
      image.securityVersion >= grant.osSecurityVersion &&
      image.measurement !== grant.osMeasurement;
    return servable ? image : undefined;
  }
}
