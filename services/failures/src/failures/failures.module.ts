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
  TypedBus,
  type Clock,
  type Logger,
  type MessageBus,
  type Observability,
  type ServiceRuntime,
} from '@rampart/service-kit';
import type { DataSource } from 'typeorm';
import { AlertSink } from '../alerts/alert-sink.js';
import { SpikeDetector } from '../alerts/spike-detector.js';
import { FailuresController } from '../api/failures.controller.js';
import { StabilityController } from '../api/stability.controller.js';
import { CohortDevices } from '../cohorts/cohort-devices.js';
import { DeviceRateLimiter } from '../ingest/device-rate-limiter.js';
import type { FailuresConfig } from './failures.config.js';
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
}

@Module({})
export class FailuresModule {
  static forRoot(options: FailuresModuleOptions): DynamicModule {
    const { runtime } = options;
    return {
      module: FailuresModule,
      controllers: [OpsController, FailuresController, StabilityController, FailuresHandler],
      providers: [
        { provide: APP_GUARD, useValue: new TenantTokenGuard('failures', runtime.bus, runtime.logger, runtime.observability.meter) },
        { provide: FailuresRepository, inject: [DATA_SOURCE], useFactory: (dataSource: DataSource) => new FailuresRepository(dataSource) },
        {
          provide: StabilityRepository,
          inject: [DATA_SOURCE],
          useFactory: (dataSource: DataSource) => new StabilityRepository(dataSource),
        },
        {
          provide: AlertSink,
          inject: [MESSAGE_BUS, SERVICE_CONFIG, LOGGER, OBSERVABILITY],
          useFactory: (bus: MessageBus, config: FailuresConfig, logger: Logger, observability: Observability) =>
            new AlertSink(bus, config.alerts.webhookUrl, logger, observability.meter),
        },
        {
          provide: FailureIngest,
          inject: [MESSAGE_BUS, FailuresRepository, AlertSink, SERVICE_CONFIG, CLOCK, LOGGER, OBSERVABILITY],
          useFactory: (
            bus: MessageBus,
            repository: FailuresRepository,
            alerts: AlertSink,
            config: FailuresConfig,
            clock: Clock,
            logger: Logger,
            observability: Observability,
          ) =>
            new FailureIngest(
              bus,
              repository,
              new DeviceRateLimiter(config.rateLimit.perMinute, config.rateLimit.burst),
              alerts,
              config.ingest,
              clock,
              logger,
              observability.meter,
            ),
        },
        {
          provide: HeartbeatIngest,
          inject: [MESSAGE_BUS, StabilityRepository, SERVICE_CONFIG, LOGGER, OBSERVABILITY],
          useFactory: (
            bus: MessageBus,
            stability: StabilityRepository,
            config: FailuresConfig,
            logger: Logger,
            observability: Observability,
          ) => new HeartbeatIngest(bus, stability, config.ingest, logger, observability.meter),
        },
        {
          provide: HealthService,
          inject: [FailuresRepository, StabilityRepository],
          useFactory: (repository: FailuresRepository, stability: StabilityRepository) => new HealthService(repository, stability),
        },
        {
          provide: SpikeDetector,
          inject: [FailuresRepository, AlertSink, SERVICE_CONFIG, LOGGER, CLOCK],
          useFactory: (repository: FailuresRepository, alerts: AlertSink, config: FailuresConfig, logger: Logger, clock: Clock) =>
            new SpikeDetector(repository, alerts, config.alerts.spike, logger, clock),
        },
        { provide: TypedBus, inject: [MESSAGE_BUS], useFactory: (bus: MessageBus) => new TypedBus(bus) },
        { provide: CohortDevices, inject: [TypedBus], useFactory: (bus: TypedBus) => new CohortDevices(bus) },
        {
          provide: FailureReportsService,
          inject: [FailuresRepository, CohortDevices, CLOCK],
          useFactory: (repository: FailuresRepository, cohorts: CohortDevices, clock: Clock) =>
            new FailureReportsService(repository, cohorts, clock),
        },
        {
          provide: ReportExport,
          inject: [FailuresRepository],
          useFactory: (repository: FailuresRepository) => new ReportExport(repository),
        },
        {
          provide: StabilityReport,
          inject: [StabilityRepository, CohortDevices, CLOCK],
          useFactory: (stability: StabilityRepository, cohorts: CohortDevices, clock: Clock) =>
            new StabilityReport(stability, cohorts, clock),
        },
        FailuresLifecycle,
      ],
    };
  }
}
