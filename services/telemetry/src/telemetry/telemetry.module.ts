import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import {
  CLOCK,
  DATA_SOURCE,
  LOGGER,
  MESSAGE_BUS,
  OBSERVABILITY,
  OpsController,
  SERVICE_CONFIG,
  TenantTokenGuard,
  type Clock,
  type Logger,
  type MessageBus,
  type Observability,
  type ServiceRuntime,
} from '@rampart/service-kit';
import type { DataSource } from 'typeorm';
import { IngestService } from './ingest.service.js';
import { ReadingsRepository } from './readings.repository.js';
import { RetentionJob } from './retention.job.js';
import type { TelemetryConfig } from './telemetry.config.js';
import { TelemetryController } from './telemetry.controller.js';
import { TelemetryHandler } from './telemetry.handler.js';
import { TelemetryQueryService } from './telemetry-query.service.js';

/** Stops the consumer (committing what it holds) before pools close. */
@Injectable()
export class TelemetryLifecycle implements OnApplicationShutdown {
  constructor(@Inject(IngestService) private readonly ingest: IngestService) {}

  async onApplicationShutdown(): Promise<void> {
    await this.ingest.stop();
  }
}

export interface TelemetryModuleOptions {
  readonly runtime: ServiceRuntime;
}

@Module({})
export class TelemetryModule {
  static forRoot(options: TelemetryModuleOptions): DynamicModule {
    const { runtime } = options;
    return {
      module: TelemetryModule,
      controllers: [OpsController, TelemetryController, TelemetryHandler],
      providers: [
        { provide: APP_GUARD, useValue: new TenantTokenGuard('telemetry', runtime.bus, runtime.logger, runtime.observability.meter) },
        { provide: ReadingsRepository, inject: [DATA_SOURCE], useFactory: (dataSource: DataSource) => new ReadingsRepository(dataSource) },
        {
          provide: TelemetryQueryService,
          inject: [ReadingsRepository, CLOCK],
          useFactory: (repository: ReadingsRepository, clock: Clock) => new TelemetryQueryService(repository, clock),
        },
        {
          provide: IngestService,
          inject: [MESSAGE_BUS, ReadingsRepository, SERVICE_CONFIG, LOGGER, OBSERVABILITY],
          useFactory: (
            bus: MessageBus,
            repository: ReadingsRepository,
            config: TelemetryConfig,
            logger: Logger,
            observability: Observability,
          ) => new IngestService(bus, repository, config.ingest, logger, observability.meter, observability.tracer),
        },
        {
          provide: RetentionJob,
          inject: [ReadingsRepository, CLOCK, SERVICE_CONFIG, LOGGER],
          useFactory: (repository: ReadingsRepository, clock: Clock, config: TelemetryConfig, logger: Logger) =>
            new RetentionJob(repository, clock, config.retention.days, config.retention.maintenanceMs, logger),
        },
        TelemetryLifecycle,
      ],
    };
  }
}
