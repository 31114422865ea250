import { Inject, Injectable } from '@nestjs/common';
import { LOGGER, SERVICE_CONFIG, type Job, type Logger } from '@rampart/service-kit';
import { RolloutEngine } from './fleet/rollout-engine.js';
import { TenantMetadata } from './tuf/tenant-metadata.js';
import type { UpdatesConfig } from './updates.config.js';

/** Re-signs tenants' signed metadata that is close to expiry, so devices never fetch expired metadata. */
@Injectable()
export class MetadataRefreshJob implements Job {
  readonly name = 'metadata refresh';
  readonly intervalMs: number;

  constructor(
    @Inject(TenantMetadata) private readonly metadata: TenantMetadata,
    @Inject(SERVICE_CONFIG) config: UpdatesConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.intervalMs = config.metadataRefreshMs;
  }

  async run(): Promise<void> {
    const refreshed = await this.metadata.refreshExpiring();
    if (refreshed.length > 0) this.logger.info({ tenants: refreshed.length }, 'expiring metadata re-signed');
  }

  onError(error: unknown): void {
    this.logger.warn({ err: error }, 'metadata refresh failed; it runs again');
  }
}

/** Moves every running rollout one step: the next wave, a pause or an abort by its health gates. */
@Injectable()
export class RolloutTickJob implements Job {
  readonly name = 'rollout step';
  readonly intervalMs: number;

  constructor(
    @Inject(RolloutEngine) private readonly rollouts: RolloutEngine,
    @Inject(SERVICE_CONFIG) config: UpdatesConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.intervalMs = config.rolloutTickMs;
  }

  async run(): Promise<void> {
    await this.rollouts.tick();
  }

  onError(error: unknown): void {
    this.logger.warn({ err: error }, 'rollout step failed; it runs again');
  }
}
