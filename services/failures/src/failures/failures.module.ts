import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { HttpErrorFilter, OpsController, runtimeProviders, type ServiceRuntime } from '@rampart/service-kit';
import { HealthService } from '../health/health.service.js';
import { FailureIngest } from '../ingest/failure-ingest.js';
import { FailuresHandler } from './failures.handler.js';

/** Stops the consumers (writing what they hold) before pools close. */
@Injectable()
export class FailuresLifecycle implements OnApplicationShutdown {
  constructor(@Inject(FailureIngest) private readonly ingest: FailureIngest) {}

  async onApplicationShutdown(): Promise<void> {
    await this.ingest.stop();
  }
}

export interface FailuresModuleOptions {
  readonly runtime: ServiceRuntime;
  readonly ingest: FailureIngest;
  readonly health: HealthService;
}

@Module({})
export class FailuresModule {
  static forRoot(options: FailuresModuleOptions): DynamicModule {
    const { runtime } = options;
    return {
      module: FailuresModule,
      controllers: [OpsController, FailuresHandler],
      providers: [
        ...runtimeProviders(runtime),
        { provide: APP_FILTER, useValue: new HttpErrorFilter(runtime.logger, () => undefined) },
        { provide: FailureIngest, useValue: options.ingest },
        { provide: HealthService, useValue: options.health },
        FailuresLifecycle,
      ],
    };
  }
}
