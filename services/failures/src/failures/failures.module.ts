import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { HttpErrorFilter, OpsController, TenantTokenGuard, TypedBus, runtimeProviders, type ServiceRuntime } from '@rampart/service-kit';
import { FailuresController } from '../api/failures.controller.js';
import { StabilityController } from '../api/stability.controller.js';
import { CohortDevices } from '../cohorts/cohort-devices.js';
import { HealthService } from '../health/health.service.js';
import { FailuresRepository } from '../ingest/failures.repository.js';
import { FailureIngest } from '../ingest/failure-ingest.js';
import { HeartbeatIngest } from '../stability/heartbeat-ingest.js';
import { FailureReportsService } from '../reports/failure-reports.service.js';
import { ReportExport } from '../reports/report-export.js';
import { StabilityReport } from '../stability/stability-report.service.js';
import { StabilityRepository } from '../stability/stability.repository.js';
import { FailuresHandler } from './failures.handler.js';

/** Stops the consumers (writing what they hold) before pools close. */
@Injectable()
export class FailuresLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(FailureIngest) private readonly ingest: FailureIngest,
    @Inject(HeartbeatIngest) private readonly heartbeats: HeartbeatIngest,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.ingest.stop(), this.heartbeats.stop()]);
  }
}

export interface FailuresModuleOptions {
  readonly runtime: ServiceRuntime;
  readonly ingest: FailureIngest;
  readonly health: HealthService;
  readonly repository: FailuresRepository;
  readonly heartbeats: HeartbeatIngest;
  readonly stability: StabilityRepository;
}

@Module({})
export class FailuresModule {
  static forRoot(options: FailuresModuleOptions): DynamicModule {
    const { runtime } = options;
    const bus = new TypedBus(runtime.bus);
    const cohorts = new CohortDevices(bus);
    return {
      module: FailuresModule,
      controllers: [OpsController, FailuresController, StabilityController, FailuresHandler],
      providers: [
        ...runtimeProviders(runtime),
        {
          provide: APP_FILTER,
          useValue: new HttpErrorFilter(runtime.logger),
        },
        { provide: APP_GUARD, useValue: new TenantTokenGuard('failures', runtime.bus, runtime.logger, runtime.observability.meter) },
        { provide: FailuresRepository, useValue: options.repository },
        { provide: FailureIngest, useValue: options.ingest },
        { provide: HealthService, useValue: options.health },
        { provide: HeartbeatIngest, useValue: options.heartbeats },
        { provide: StabilityRepository, useValue: options.stability },
        { provide: FailureReportsService, useValue: new FailureReportsService(options.repository, cohorts) },
        { provide: ReportExport, useValue: new ReportExport(options.repository) },
        { provide: StabilityReport, useValue: new StabilityReport(options.stability, cohorts) },
        { provide: TypedBus, useValue: bus },
        FailuresLifecycle,
      ],
    };
  }
}
