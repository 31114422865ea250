import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { HttpErrorFilter, OpsController, TenantTokenGuard, runtimeProviders, type ServiceRuntime } from '@rampart/service-kit';
import { UpdatesController } from './api/updates.controller.js';
import { UpdatesHandler } from './api/updates.handler.js';
import { FleetService } from './fleet/fleet.service.js';
import { ImagesRepository } from './images/images.repository.js';
import { ImagesService } from './images/images.service.js';
import { TenantMetadata } from './tuf/tenant-metadata.js';

export interface UpdatesModuleOptions {
  readonly runtime: ServiceRuntime;
  readonly images: ImagesService;
  readonly imageRows: ImagesRepository;
  readonly fleet: FleetService;
  readonly metadata: TenantMetadata;
}

@Module({})
export class UpdatesModule {
  static forRoot(options: UpdatesModuleOptions): DynamicModule {
    const { runtime } = options;
    return {
      module: UpdatesModule,
      controllers: [OpsController, UpdatesController, UpdatesHandler],
      providers: [
        ...runtimeProviders(runtime),
        { provide: APP_FILTER, useValue: new HttpErrorFilter(runtime.logger) },
        { provide: APP_GUARD, useValue: new TenantTokenGuard('updates', runtime.bus, runtime.logger, runtime.observability.meter) },
        { provide: ImagesService, useValue: options.images },
        { provide: ImagesRepository, useValue: options.imageRows },
        { provide: FleetService, useValue: options.fleet },
        { provide: TenantMetadata, useValue: options.metadata },
      ],
    };
  }
}
