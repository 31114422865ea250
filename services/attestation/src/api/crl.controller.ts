import { Controller, Get, Header, Inject, NotFoundException, Param } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public, systemClock, ZodValidationPipe } from '@rampart/service-kit';
import { TenantAuthorities } from '../ca/tenant-authorities.js';
import { TenantCreateBody } from './api.dto.js';

/** Revocation lists are public and signed: relying parties fetch them without credentials. */
@ApiTags('public')
@Public()
@Controller('v1/tenants')
export class CrlController {
  constructor(@Inject(TenantAuthorities) private readonly authorities: TenantAuthorities) {}

  @Get(':tenantId/trust-bundle')
  @Header('content-type', 'application/x-pem-file')
  @Header('cache-control', 'max-age=300')
  @ApiOperation({ summary: "The tenant's current and next CA certificates and the platform root (PEM): trust these" })
  async trustBundle(@Param('tenantId', new ZodValidationPipe(TenantCreateBody.shape.id)) tenantId: string): Promise<string> {
    const certificates = await this.authorities.trustBundle(tenantId);
    if (certificates === undefined) throw new NotFoundException({ code: 'NOT_FOUND', message: 'no such tenant' });
    return certificates;
  }

  @Get(':tenantId/crl')
  @Header('content-type', 'application/x-pem-file')
  @Header('cache-control', 'max-age=300')
  @ApiOperation({ summary: "The tenant CA's certificate revocation list (PEM)" })
  async crl(@Param('tenantId', new ZodValidationPipe(TenantCreateBody.shape.id)) tenantId: string): Promise<string> {
    const pem = await this.authorities.crlPem(tenantId, systemClock.now());
    if (pem === undefined) throw new NotFoundException({ code: 'NOT_FOUND', message: 'no such tenant' });
    return pem;
  }
}
