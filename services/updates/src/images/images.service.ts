import { ErrorCode, Stream, Subject, type ImageEvent } from '@rampart/contracts';
import { DomainError, encodeJson, openStream, type Logger, type MessageBus } from '@rampart/service-kit';
import type { Transactions } from '../persistence/transactions.js';
import type { TenantMetadata } from '../tuf/tenant-metadata.js';
import { checkUpload } from './image-upload.js';
import type { ImageRow, ImagesRepository, OsFeed } from './images.repository.js';

export class ImageNotFoundError extends DomainError {
  override readonly name = 'ImageNotFoundError';
  readonly code = ErrorCode.notFound;
}

export class ImageStateError extends DomainError {
  override readonly name = 'ImageStateError';
  readonly code = ErrorCode.conflict;
}

/**
 * Upload, release and revoke. A release or revocation changes the image's
 * status and the tenant's signed targets in one transaction, then announces
 * it on `UPDATES_EVENTS` (with the image's measurement, for the attestation
 * service's known-good list). Announcing again is harmless (the stream
 * deduplicates on the message id), so a repeated release re-announces.
 */
export class ImagesService {
  constructor(
    private readonly transactions: Transactions,
    private readonly repository: ImagesRepository,
    private readonly metadata: TenantMetadata,
    private readonly bus: MessageBus,
    private readonly logger: Logger,
    private readonly maxImageBytes: number,
  ) {}

  async start(): Promise<void> {
    await openStream(this.bus, Stream.updates, 'updates');
  }

  async upload(tenantId: string, bytes: Buffer): Promise<{ image: ImageRow; created: boolean }> {
    const checked = checkUpload(bytes, this.maxImageBytes);
    await this.metadata.ensure(tenantId);
    const stored = await this.transactions.run((tx) => this.repository.store(tenantId, checked, tx));
    if (stored.created)
      this.logger.info(
        { tenantId, sha256: checked.sha256, component: checked.manifest.component, version: checked.manifest.version },
        'image uploaded',
      );
    return stored;
  }

  /** One of the tenant's images; ImageNotFoundError if it has none with that digest (another tenant's answers alike). */
  async image(tenantId: string, sha256: string): Promise<ImageRow> {
    const image = await this.repository.find(tenantId, sha256);
    if (image === undefined) throw new ImageNotFoundError('no such image');
    return image;
  }

  /**
   * Releases an image; an OS image may also go on an OS feed (`retail-eval` first, then `retail`, as
   * Azure Sphere staged its OS). A released image can be moved from early evaluation to retail, not back.
   */
  async release(tenantId: string, sha256: string, osFeed?: OsFeed): Promise<ImageRow> {
    const released = await this.transition(tenantId, sha256, 'released');
    if (osFeed === undefined || released.osFeed === osFeed) return released;
    if (released.component !== 'os') throw new ImageStateError(`only OS images go on an OS feed, not ${released.component}`);
    if (released.osFeed === 'retail')
      throw new ImageStateError('the image is on the retail feed already; it cannot go back to early evaluation');
    const onFeed = await this.transactions.run((tx) => this.repository.setFeed(tenantId, sha256, osFeed, tx));
    if (onFeed === undefined) throw new ImageStateError('the image is no longer released');
    this.logger.info({ tenantId, sha256, osFeed }, 'OS image on a feed');
    return onFeed;
  }

  revoke(tenantId: string, sha256: string): Promise<ImageRow> {
    return this.transition(tenantId, sha256, 'revoked');
  }

  private async transition(tenantId: string, sha256: string, to: 'released' | 'revoked'): Promise<ImageRow> {
    const image = await this.transactions.run(async (tx) => {
      const current = await this.repository.find(tenantId, sha256, tx);
      if (current === undefined) throw new ImageNotFoundError('no such image');
      if (current.status === to) return current;
      const moved = await this.repository.setStatus(tenantId, sha256, to, tx);
      if (moved === undefined) throw new ImageStateError(`a ${current.status} image cannot be ${to}`);
      await this.metadata.publish(tenantId, tx);
      return moved;
    });
    const event: ImageEvent = {
      imageId: image.sha256,
      stage: image.component,
      sha256: image.measurement,
      version: image.version,
      securityVersion: image.securityVersion,
    };
    await this.bus.publishDurable(to === 'released' ? Subject.updatesImageReleased : Subject.updatesImageRevoked, encodeJson(event), {
      msgId: `image:${image.sha256}:${to}`,
    });
    this.logger.info({ tenantId, sha256, to }, `image ${to}`);
    return image;
  }
}
