import type { NestExpressApplication } from '@nestjs/platform-express';
import { QueueGroup } from '@rampart/contracts';
import { RevocationWatcher, defineService, type Logger, type MessageBus, type RunningService } from '@rampart/service-kit';
import { DeviceEndpoint } from './device-api/device-endpoint.js';
import { FleetService } from './fleet/fleet.service.js';
import { RolloutEngine } from './fleet/rollout-engine.js';
import { ImagesService } from './images/images.service.js';
import { updatesDatabase } from './migrations/index.js';
import { TenantMetadata } from './tuf/tenant-metadata.js';
import { TenantRepositoryConsumer } from './tuf/tenant-repository.consumer.js';
import { PrepareTufKeys } from './tuf/prepare-tuf-keys.js';
import { loadUpdatesConfig, type UpdatesConfig } from './updates.config.js';
import { MetadataRefreshJob, RolloutTickJob } from './updates.jobs.js';
import { UpdatesModule } from './updates.module.js';

export interface RunningUpdates extends RunningService {
  /** Where devices fetch metadata and images (mutual TLS). */
  readonly devicePort: number;
  readonly metadata: TenantMetadata;
  readonly fleet: FleetService;
  readonly images: ImagesService;
  readonly rollouts: RolloutEngine;
}

/** The updates service: migrations, the tenant REST API, the device HTTPS endpoint, the metadata re-signer and rollouts. */
export const updatesService = defineService({
  name: 'updates',
  config: loadUpdatesConfig,
  database: { ...updatesDatabase, connection: (config: UpdatesConfig) => config.database },
  module: ({ runtime }) => UpdatesModule.forRoot({ runtime }),
  queueGroup: QueueGroup.updates,
  openApi: {
    title: 'Rampart updates',
    description: 'Images, signed metadata, products, device groups and deployments of your tenant',
    bearerAuth: true,
  },
  configure: (app, config) => {
    (app as NestExpressApplication).useBodyParser('raw', { type: 'application/octet-stream', limit: config.maxImageBytes });
  },
  beforeListen: [
    // Before anything signs: keys sealed before the key provider re-sealed, keys another provider holds named.
    { name: 'TUF keys', run: (app) => app.get(PrepareTufKeys).run() },
    { name: 'updates stream', run: (app) => app.get(ImagesService).start() },
    {
      name: 'tenant repository consumer',
      run: (app) => app.get(TenantRepositoryConsumer).start(),
      undo: (app) => app.get(TenantRepositoryConsumer).stop(),
    },
    { name: 'revocation watcher', run: (app) => app.get(RevocationWatcher).start(), undo: (app) => app.get(RevocationWatcher).stop() },
    { name: 'device update endpoint', run: (app) => app.get(DeviceEndpoint).start(), undo: (app) => app.get(DeviceEndpoint).stop() },
  ],
  jobs: [MetadataRefreshJob, RolloutTickJob],
  expose: (app) => ({
    devicePort: app.get(DeviceEndpoint).port,
    metadata: app.get(TenantMetadata),
    fleet: app.get(FleetService),
    images: app.get(ImagesService),
    rollouts: app.get(RolloutEngine),
  }),
});

/** Starts the updates service: migrations, the tenant REST API, the device HTTPS endpoint, and the metadata re-signer. */
export function startUpdates(config: UpdatesConfig, logger: Logger, sharedBus?: MessageBus): Promise<RunningUpdates> {
  return updatesService.start(config, logger, sharedBus);
}
