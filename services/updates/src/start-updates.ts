import { readFile } from 'node:fs/promises';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { QueueGroup, Subject } from '@rampart/contracts';
import {
  RevocationWatcher,
  TypedBus,
  closeServiceRuntime,
  createRuntimeFromConfig,
  every,
  openDatabase,
  startHttpService,
  type Logger,
  type MessageBus,
  type RunningService,
} from '@rampart/service-kit';
import { KeyVault, certificatesInPemBundle } from '@rampart/trust';
import { DeviceServer } from './device-api/device-server.js';
import { RecoveryService } from './device-api/recovery.js';
import { DeploymentRepository } from './fleet/deployment.repository.js';
import { DirectorService } from './fleet/director.service.js';
import { FleetRepository } from './fleet/fleet.repository.js';
import { FleetService } from './fleet/fleet.service.js';
import { RolloutEngine } from './fleet/rollout-engine.js';
import { ChunkCache, ImagesRepository } from './images/images.repository.js';
import { ImagesService } from './images/images.service.js';
import { updatesDatabase } from './migrations/index.js';
import { TenantMetadata } from './tuf/tenant-metadata.js';
import { TenantRepositoryConsumer } from './tuf/tenant-repository.consumer.js';
import { TufMetadataRepository } from './tuf/tuf-metadata.repository.js';
import { UpdatesModule } from './updates.module.js';
import type { UpdatesConfig } from './updates.config.js';

/** How long the update server waits for the attestation service's word on a recovery. */
const RECOVERY_GRANT_TIMEOUT_MS = 5_000;

/** Every certificate in a PEM bundle. */
function pemCertificates(bundle: string): string[] {
  const certificates = certificatesInPemBundle(bundle);
  if (certificates.length === 0) throw new Error('MANUFACTURER_CA_FILE holds no PEM certificate');
  return certificates;
}

export interface RunningUpdates extends RunningService {
  /** Where devices fetch metadata and images (mutual TLS). */
  readonly devicePort: number;
  readonly metadata: TenantMetadata;
  readonly fleet: FleetService;
  readonly images: ImagesService;
  readonly rollouts: RolloutEngine;
}

/** Starts the updates service: migrations, the tenant REST API, the device HTTPS endpoint, and the metadata re-signer. */
export async function startUpdates(config: UpdatesConfig, logger: Logger, sharedBus?: MessageBus): Promise<RunningUpdates> {
  const runtime = await createRuntimeFromConfig('updates', config, logger, sharedBus);
  let service: RunningService | undefined;
  let devices: DeviceServer | undefined;
  let revocations: RevocationWatcher | undefined;
  let tenantRepositories: TenantRepositoryConsumer | undefined;
  try {
    runtime.dataSource = await openDatabase(
      {
        url: config.database.url,
        ...updatesDatabase,
        poolSize: config.database.poolSize,
      },
      logger,
    );
    const dataSource = runtime.dataSource;
    const imageRows = new ImagesRepository(dataSource, new ChunkCache(config.imageCacheBytes));
    const fleetRows = new FleetRepository(dataSource);
    const deploymentRows = new DeploymentRepository(dataSource);
    runtime.readiness.register('database', () => imageRows.ping());
    const tufRows = new TufMetadataRepository(dataSource);
    const metadata = new TenantMetadata(tufRows, new KeyVault(config.keyEncryptionKey), imageRows, config.lifetimes, config.rootPolicy);
    const images = new ImagesService(imageRows, metadata, runtime.bus, logger, config.maxImageBytes);
    await images.start();
    tenantRepositories = new TenantRepositoryConsumer(runtime.bus, metadata, logger);
    await tenantRepositories.start();
    const typed = new TypedBus(runtime.bus);
    revocations = new RevocationWatcher(runtime.bus, typed, logger, () => undefined);
    await revocations.start();
    const rollouts = new RolloutEngine(deploymentRows, imageRows, runtime.bus, typed, logger, runtime.observability.meter);
    const fleet = new FleetService(fleetRows, deploymentRows, imageRows, typed, logger, (deviceIds) => rollouts.notify(deviceIds));
    const director = new DirectorService(fleetRows, deploymentRows, imageRows, metadata);
    const [certificatePem, keyPem, platformCaPem] = await Promise.all(
      [config.device.tlsCertFile, config.device.tlsKeyFile, config.device.platformCaFile].map((f) => readFile(f, 'utf8')),
    );
    const manufacturerRootsPem =
      config.device.manufacturerCaFile === undefined
        ? undefined
        : pemCertificates(await readFile(config.device.manufacturerCaFile, 'utf8'));
    const recovery =
      manufacturerRootsPem === undefined
        ? undefined
        : new RecoveryService(
            (deviceId) => typed.request(Subject.attestationRecoveryGrant, { deviceId }, RECOVERY_GRANT_TIMEOUT_MS),
            imageRows,
            metadata,
          );
    devices = new DeviceServer(
      {
        host: config.device.host,
        port: config.device.port,
        certificatePem: certificatePem!,
        keyPem: keyPem!,
        platformCaPem: platformCaPem!,
        ...(manufacturerRootsPem === undefined ? {} : { manufacturerRootsPem }),
        freshAttestationMs: config.device.freshAttestationMs,
        imageStreams: config.device.imageStreams,
      },
      metadata,
      director,
      imageRows,
      revocations,
      logger,
      runtime.observability.meter,
      recovery,
    );
    const devicePort = await devices.start();
    logger.info(
      { port: devicePort, recovery: recovery !== undefined },
      recovery === undefined
        ? 'device update endpoint listening (HTTPS, operational certificates required; no recovery path: MANUFACTURER_CA_FILE unset)'
        : 'device update endpoint listening (HTTPS, operational certificates; IDevIDs on the recovery path only)',
    );
    service = await startHttpService({
      runtime,
      module: UpdatesModule.forRoot({ runtime, images, imageRows, fleet, metadata }),
      host: config.http.host,
      port: config.http.port,
      queueGroup: QueueGroup.updates,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      configure: (app) => {
        (app as NestExpressApplication).useBodyParser('raw', { type: 'application/octet-stream', limit: config.maxImageBytes });
        const document = SwaggerModule.createDocument(
          app,
          new DocumentBuilder()
            .setTitle('Rampart updates')
            .setVersion('1')
            .addBearerAuth()
            .setDescription('Images, signed metadata, products, device groups and deployments of your tenant')
            .build(),
        );
        SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
      },
    });
    const refresher = every(
      config.metadataRefreshMs,
      async () => {
        const refreshed = await metadata.refreshExpiring();
        if (refreshed.length > 0) logger.info({ tenants: refreshed.length }, 'expiring metadata re-signed');
      },
      (error) => logger.warn({ err: error }, 'metadata refresh failed; it runs again'),
    );
    const rolloutTicks = every(
      config.rolloutTickMs,
      async () => {
        await rollouts.tick();
      },
      (error) => logger.warn({ err: error }, 'rollout step failed; it runs again'),
    );
    const running = service;
    const deviceServer = devices;
    const deny = revocations;
    const repositories = tenantRepositories;
    return {
      ...service,
      devicePort,
      metadata,
      fleet,
      images,
      rollouts,
      close: async () => {
        refresher.stop();
        rolloutTicks.stop();
        await deviceServer.stop();
        await deny.stop();
        await repositories.stop();
        await running.close();
      },
    };
  } catch (error) {
    await devices?.stop();
    await revocations?.stop();
    await tenantRepositories?.stop();
    if (service !== undefined) await service.close();
    else await closeServiceRuntime(runtime);
    throw error;
  }
}
