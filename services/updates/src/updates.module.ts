import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { HttpErrorFilter, OpsController, TenantTokenGuard, runtimeProviders, type ServiceRuntime } from '@rampart/service-kit';
import { UpdatesController } from './api/updates.controller.js';
import { UpdatesHandler } from './api/updates.handler.js';
import { FleetError, FleetService } from './fleet/fleet.service.js';
import { ImageRejectedError } from './images/image-upload.js';
import { ImageConflictError, ImagesRepository } from './images/images.repository.js';
import { ImageNotFoundError, ImageStateError, ImagesService } from './images/images.service.js';
import { TenantMetadata } from './tuf/tenant-metadata.js';

export interface UpdatesModuleOptions {
  readonly runtime: ServiceRuntime;
  readonly images: ImagesService;
  readonly imageRows: ImagesRepository;
  readonly fleet: FleetService;
  readonly metadata: TenantMetadata;
}

/** Domain errors as HTTP answers. */
function mapError(error: unknown): { status: number; code: string; message: string } | undefined {
  if (error instanceof ImageRejectedError) return { status: 400, code: 'IMAGE_REJECTED', message: error.message };
  if (error instanceof ImageConflictError) return { status: 409, code: 'CONFLICT', message: error.message };
  if (error instanceof ImageNotFoundError) return { status: 404, code: 'NOT_FOUND', message: error.message };
  if (error instanceof ImageStateError) return { status: 409, code: 'CONFLICT', message: error.message };
  if (error instanceof FleetError) {
    return {
      status: error.status,
      code: error.status === 404 ? 'NOT_FOUND' : error.status === 409 ? 'CONFLICT' : 'BAD_REQUEST',
      message: error.message,
    };
  }
  return undefined;
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
        { provide: APP_FILTER, useValue: new HttpErrorFilter(runtime.logger, mapError) },
        { provide: APP_GUARD, useValue: new TenantTokenGuard('updates', runtime.bus, runtime.logger, runtime.observability.meter) },
        { provide: ImagesService, useValue: options.images },
        { provide: ImagesRepository, useValue: options.imageRows },
        { provide: FleetService, useValue: options.fleet },
        { provide: TenantMetadata, useValue: options.metadata },
      ],
    };
  }
}
