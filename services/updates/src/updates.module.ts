import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import {
  DATA_SOURCE,
  LOGGER,
  MESSAGE_BUS,
  OBSERVABILITY,
  OpsController,
  RevocationWatcher,
  SERVICE_CONFIG,
  TenantTokenGuard,
  TypedBus,
  type Logger,
  type MessageBus,
  type Observability,
  type ServiceRuntime,
} from '@rampart/service-kit';
import { KeyVault, openKeyProvider } from '@rampart/trust';
import type { DataSource } from 'typeorm';
import { UpdatesController } from './api/updates.controller.js';
import { UpdatesHandler } from './api/updates.handler.js';
import { DeviceEndpoint } from './device-api/device-endpoint.js';
import { DeploymentRepository } from './fleet/deployment.repository.js';
import { DirectorService } from './fleet/director.service.js';
import { FleetRepository } from './fleet/fleet.repository.js';
import { FleetService } from './fleet/fleet.service.js';
import { RolloutEngine } from './fleet/rollout-engine.js';
import { ChunkCache, ImagesRepository } from './images/images.repository.js';
import { ImagesService } from './images/images.service.js';
import { Transactions } from './persistence/transactions.js';
import { PrepareTufKeys } from './tuf/prepare-tuf-keys.js';
import { SealedKeyTable } from './tuf/sealed-key-table.js';
import { TenantMetadata } from './tuf/tenant-metadata.js';
import { TenantRepositoryConsumer } from './tuf/tenant-repository.consumer.js';
import { TufKeyring } from './tuf/tuf-keyring.js';
import { TufMetadataRepository } from './tuf/tuf-metadata.repository.js';
import type { UpdatesConfig } from './updates.config.js';

/** The vault sealing the software provider's keys; the schema requires its key with KEYS_PROVIDER=software. */
export function keyVaultOf(config: UpdatesConfig): KeyVault {
  if (config.keyEncryptionKey === undefined) throw new Error('UPDATES_KEY_ENCRYPTION_KEY is required with KEYS_PROVIDER=software');
  return new KeyVault(config.keyEncryptionKey);
}

export interface UpdatesModuleOptions {
  readonly runtime: ServiceRuntime;
}

@Module({})
export class UpdatesModule {
  static forRoot(options: UpdatesModuleOptions): DynamicModule {
    const { runtime } = options;
    return {
      module: UpdatesModule,
      controllers: [OpsController, UpdatesController, UpdatesHandler],
      providers: [
        { provide: APP_GUARD, useValue: new TenantTokenGuard('updates', runtime.bus, runtime.logger, runtime.observability.meter) },
        { provide: Transactions, inject: [DATA_SOURCE], useFactory: (dataSource: DataSource) => new Transactions(dataSource) },
        {
          provide: ImagesRepository,
          inject: [DATA_SOURCE, SERVICE_CONFIG],
          useFactory: (dataSource: DataSource, config: UpdatesConfig) =>
            new ImagesRepository(dataSource, new ChunkCache(config.imageCacheBytes)),
        },
        { provide: FleetRepository, inject: [DATA_SOURCE], useFactory: (dataSource: DataSource) => new FleetRepository(dataSource) },
        {
          provide: DeploymentRepository,
          inject: [DATA_SOURCE],
          useFactory: (dataSource: DataSource) => new DeploymentRepository(dataSource),
        },
        {
          provide: TufMetadataRepository,
          inject: [DATA_SOURCE],
          useFactory: (dataSource: DataSource) => new TufMetadataRepository(dataSource),
        },
        {
          provide: TufKeyring,
          inject: [DATA_SOURCE, TufMetadataRepository, SERVICE_CONFIG],
          useFactory: (dataSource: DataSource, tufRows: TufMetadataRepository, config: UpdatesConfig) => {
            const provider = openKeyProvider(config.keys, () => ({ vault: keyVaultOf(config), store: new SealedKeyTable(dataSource) }));
            const keyring = new TufKeyring(provider, tufRows);
            // Not ready while the keys cannot sign (a pulled token, a refused PIN): say so, never sign another way.
            runtime.readiness.register('tuf signing keys', () => keyring.ready());
            return keyring;
          },
        },
        {
          provide: PrepareTufKeys,
          inject: [SERVICE_CONFIG, TufMetadataRepository, Transactions, LOGGER],
          useFactory: (config: UpdatesConfig, tufRows: TufMetadataRepository, transactions: Transactions, logger: Logger) =>
            new PrepareTufKeys(
              config.keys.kind,
              config.keys.kind === 'software' ? keyVaultOf(config) : undefined,
              tufRows,
              transactions,
              logger,
            ),
        },
        {
          provide: TenantMetadata,
          inject: [Transactions, TufMetadataRepository, TufKeyring, ImagesRepository, SERVICE_CONFIG, LOGGER, OBSERVABILITY],
          useFactory: (
            transactions: Transactions,
            tufRows: TufMetadataRepository,
            keyring: TufKeyring,
            imageRows: ImagesRepository,
            config: UpdatesConfig,
            logger: Logger,
            observability: Observability,
          ) =>
            new TenantMetadata(transactions, tufRows, keyring, imageRows, config.lifetimes, config.rootPolicy, logger, observability.meter),
        },
        {
          provide: ImagesService,
          inject: [Transactions, ImagesRepository, TenantMetadata, MESSAGE_BUS, LOGGER, SERVICE_CONFIG],
          useFactory: (
            transactions: Transactions,
            imageRows: ImagesRepository,
            metadata: TenantMetadata,
            bus: MessageBus,
            logger: Logger,
            config: UpdatesConfig,
          ) => new ImagesService(transactions, imageRows, metadata, bus, logger, config.maxImageBytes),
        },
        {
          provide: TenantRepositoryConsumer,
          inject: [MESSAGE_BUS, TenantMetadata, LOGGER],
          useFactory: (bus: MessageBus, metadata: TenantMetadata, logger: Logger) => new TenantRepositoryConsumer(bus, metadata, logger),
        },
        { provide: TypedBus, inject: [MESSAGE_BUS], useFactory: (bus: MessageBus) => new TypedBus(bus) },
        {
          provide: RevocationWatcher,
          inject: [MESSAGE_BUS, TypedBus, LOGGER],
          // On a revocation there is nothing to disconnect here: the device endpoint asks the watcher on every request.
          useFactory: (bus: MessageBus, typed: TypedBus, logger: Logger) => new RevocationWatcher(bus, typed, logger, () => undefined),
        },
        {
          provide: RolloutEngine,
          inject: [Transactions, DeploymentRepository, ImagesRepository, MESSAGE_BUS, TypedBus, LOGGER, OBSERVABILITY],
          useFactory: (
            transactions: Transactions,
            deploymentRows: DeploymentRepository,
            imageRows: ImagesRepository,
            bus: MessageBus,
            typed: TypedBus,
            logger: Logger,
            observability: Observability,
          ) => new RolloutEngine(transactions, deploymentRows, imageRows, bus, typed, logger, observability.meter),
        },
        {
          provide: FleetService,
          inject: [Transactions, FleetRepository, DeploymentRepository, ImagesRepository, TypedBus, LOGGER, RolloutEngine],
          useFactory: (
            transactions: Transactions,
            fleetRows: FleetRepository,
            deploymentRows: DeploymentRepository,
            imageRows: ImagesRepository,
            typed: TypedBus,
            logger: Logger,
            rollouts: RolloutEngine,
          ) =>
            new FleetService(transactions, fleetRows, deploymentRows, imageRows, typed, logger, (deviceIds) => rollouts.notify(deviceIds)),
        },
        {
          provide: DirectorService,
          inject: [FleetRepository, DeploymentRepository, ImagesRepository, TenantMetadata],
          useFactory: (
            fleetRows: FleetRepository,
            deploymentRows: DeploymentRepository,
            imageRows: ImagesRepository,
            metadata: TenantMetadata,
          ) => new DirectorService(fleetRows, deploymentRows, imageRows, metadata),
        },
        {
          provide: DeviceEndpoint,
          inject: [SERVICE_CONFIG, TenantMetadata, DirectorService, ImagesRepository, RevocationWatcher, TypedBus, LOGGER, OBSERVABILITY],
          useFactory: (
            config: UpdatesConfig,
            metadata: TenantMetadata,
            director: DirectorService,
            imageRows: ImagesRepository,
            revocations: RevocationWatcher,
            typed: TypedBus,
            logger: Logger,
            observability: Observability,
          ) => DeviceEndpoint.create(config, { metadata, director, imageRows, revocations, typed, logger, meter: observability.meter }),
        },
      ],
    };
  }
}
