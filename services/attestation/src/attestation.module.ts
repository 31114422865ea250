import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, Reflector } from '@nestjs/core';
import { HttpErrorFilter, OpsController, runtimeProviders, type ServiceRuntime } from '@rampart/service-kit';
import { AuthGuard } from './access/auth.guard.js';
import { CrlController } from './api/crl.controller.js';
import { RotationService } from './api/rotation.service.js';
import { PlatformController, TenantController } from './api/tenancy.controller.js';
import { TenantAuthorities } from './ca/tenant-authorities.js';
import { TenancyService } from './api/tenancy.service.js';
import { AttestationAdmission } from './attestation/attestation-admission.js';
import { AttestationHandler } from './attestation/attestation.handler.js';
import type { AttestationRepository } from './attestation/attestation.repository.js';
import { AttestationService } from './attestation/attestation.service.js';

export interface AttestationModuleOptions {
  readonly runtime: ServiceRuntime;
  readonly repository: AttestationRepository;
  readonly attestation: AttestationService;
  readonly admission: AttestationAdmission;
  readonly tenancy: TenancyService;
  readonly authorities: TenantAuthorities;
  readonly rotation: RotationService;
  readonly platformAdminToken: string;
}

@Module({})
export class AttestationModule {
  static forRoot(options: AttestationModuleOptions): DynamicModule {
    const { runtime } = options;
    const denials = runtime.observability.meter.createCounter('rampart_attestation_api_denials_total', {
      description: 'Refused API requests',
    });
    return {
      module: AttestationModule,
      controllers: [OpsController, PlatformController, TenantController, CrlController, AttestationHandler],
      providers: [
        ...runtimeProviders(runtime),
        { provide: AttestationService, useValue: options.attestation },
        { provide: AttestationAdmission, useValue: options.admission },
        { provide: TenancyService, useValue: options.tenancy },
        { provide: TenantAuthorities, useValue: options.authorities },
        { provide: RotationService, useValue: options.rotation },
        {
          provide: APP_GUARD,
          inject: [Reflector],
          useFactory: (reflector: Reflector) =>
            new AuthGuard(reflector, options.repository, options.platformAdminToken, runtime.logger, denials),
        },
        {
          provide: APP_FILTER,
          useValue: new HttpErrorFilter(runtime.logger),
        },
      ],
    };
  }
}
