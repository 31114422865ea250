import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { HttpErrorFilter, OpsController, TenantTokenGuard, runtimeProviders, systemClock, type ServiceRuntime } from '@rampart/service-kit';
import { IngestService } from './ingest.service.js';
import type { ReadingsRepository } from './readings.repository.js';
import { RetentionJob } from './retention.job.js';
import { TelemetryController } from './telemetry.controller.js';
import { TelemetryHandler } from './telemetry.handler.js';
import { TelemetryQueryService } from './telemetry-query.service.js';

/** Stops the consumer (committing what it holds) before pools close. */
@Injectable()
export class TelemetryLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(IngestService) private readonly ingest: IngestService,
    @Inject(RetentionJob) private readonly retention: RetentionJob,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    this.retention.stop();
    await this.ingest.stop();
  }
}

export interface TelemetryModuleOptions {
  readonly runtime: ServiceRuntime;
  readonly repository: ReadingsRepository;
  readonly ingest: IngestService;
  readonly retention: RetentionJob;
}

@Module({})
export class TelemetryModule {
  static forRoot(options: TelemetryModuleOptions): DynamicModule {
    const { runtime } = options;
    return {
      module: TelemetryModule,
      controllers: [OpsController, TelemetryController, TelemetryHandler],
      providers: [
        ...runtimeProviders(runtime),
        {
          provide: APP_FILTER,
          useValue: new HttpErrorFilter(runtime.logger),
        },
        { provide: APP_GUARD, useValue: new TenantTokenGuard('telemetry', runtime.bus, runtime.logger, runtime.observability.meter) },
        { provide: TelemetryQueryService, useValue: new TelemetryQueryService(options.repository, systemClock) },
        { provide: IngestService, useValue: options.ingest },
        { provide: RetentionJob, useValue: options.retention },
        TelemetryLifecycle,
      ],
    };
  }
}
