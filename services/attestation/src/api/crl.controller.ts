import { Controller, Get, Header, Inject, Param } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public, systemClock, ZodValidationPipe } from '@rampart/service-kit';
import { RootCrlNotFoundError } from '../ca/ca-errors.js';
import { TenantAuthorities } from '../ca/tenant-authorities.js';
import { CaIdParam, TenantIdParam } from './api.dto.js';

/** Revocation lists are public and signed: relying parties fetch them without credentials. */
@ApiTags('public')
@Public()
@Controller('v1')
export class CrlController {
  constructor(@Inject(TenantAuthorities) private readonly authorities: TenantAuthorities) {}

  @Get('tenants/:tenantId/trust-bundle')
  @Header('content-type', 'application/x-pem-file')
  @Header('cache-control', 'max-age=300')
  @ApiOperation({ summary: "The tenant's current and next CA certificates and the platform root (PEM): trust these" })
  trustBundle(@Param('tenantId', new ZodValidationPipe(TenantIdParam)) tenantId: string): Promise<string> {
    return this.authorities.trustBundle(tenantId);
  }

  @Get('tenants/:tenantId/crl')
  @Header('content-type', 'application/x-pem-file')
  @Header('cache-control', 'max-age=300')
  @ApiOperation({ summary: "The tenant's issuing CA's certificate revocation list (PEM)" })
  crl(@Param('tenantId', new ZodValidationPipe(TenantIdParam)) tenantId: string): Promise<string> {
    return this.authorities.crlPem(tenantId, systemClock.now());
  }

  @Get('tenants/:tenantId/ca-certificates/:caId/crl')
  @Header('content-type', 'application/x-pem-file')
  @Header('cache-control', 'max-age=300')
  @ApiOperation({ summary: "One tenant CA's certificate revocation list (PEM): the CRL distribution point of the certificates it issues" })
  caCrl(
    @Param('tenantId', new ZodValidationPipe(TenantIdParam)) tenantId: string,
    @Param('caId', new ZodValidationPipe(CaIdParam)) caId: string,
  ): Promise<string> {
    return this.authorities.caCrlPem(tenantId, caId, systemClock.now());
  }

  @Get('platform/crl')
  @Header('content-type', 'application/x-pem-file')
  @Header('cache-control', 'max-age=300')
  @ApiOperation({
    summary:
      "The platform CA's certificate revocation list (PEM): the root's in two tiers, the issuing CA's in three; the CRL distribution point of every tenant CA",
  })
  platformCrl(): Promise<string> {
    return this.authorities.platformCrlPem(systemClock.now());
  }

  @Get('platform/root-crl')
  @Header('content-type', 'application/x-pem-file')
  @Header('cache-control', 'max-age=300')
  @ApiOperation({
    summary: "The offline root's CRL (PEM), as the ceremony signed it: the CRL distribution point of the issuing CA (three tiers)",
  })
  async rootCrl(): Promise<string> {
    const pem = await this.authorities.rootCrlPem();
    if (pem === undefined) throw new RootCrlNotFoundError();
    return pem;
  }
}
