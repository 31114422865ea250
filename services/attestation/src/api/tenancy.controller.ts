import { Body, Controller, Get, HttpCode, Inject, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Requires, ZodValidationPipe } from '@rampart/service-kit';
import type { z } from 'zod';
import { CurrentPrincipal } from '../access/current-principal.js';
import { actorOf, tenantIdOf, type Principal } from '../access/principal.js';
import { RotationService } from './rotation.service.js';

import {
  ComponentParam,
  DeviceIdParam,
  FloorBody,
  ListQuery,
  MeasurementBody,
  RevokeBody,
  TenantCreateBody,
  TokenCreateBody,
  TokenIdParam,
} from './api.dto.js';
import { TenancyService } from './tenancy.service.js';

@ApiTags('platform')
@ApiBearerAuth()
@Controller('v1')
export class PlatformController {
  constructor(@Inject(TenancyService) private readonly tenancy: TenancyService) {}

  @Post('tenants')
  @Requires('Platform')
  @ApiOperation({ summary: 'Create a tenant, its CA, and its first Administrator token (shown once)' })
  createTenant(@CurrentPrincipal() p: Principal, @Body(new ZodValidationPipe(TenantCreateBody)) body: z.infer<typeof TenantCreateBody>) {
    return this.tenancy.createTenant(p, body.id, body.name);
  }

  @Put('measurements')
  @HttpCode(204)
  @Requires('Platform')
  @ApiOperation({ summary: 'Mark a boot-stage measurement known-good (released) or revoked' })
  async setMeasurement(
    @CurrentPrincipal() p: Principal,
    @Body(new ZodValidationPipe(MeasurementBody)) body: z.infer<typeof MeasurementBody>,
  ) {
    await this.tenancy.setMeasurement(p, body.stage, body.sha256, body.status, body.imageVersion ?? null);
  }

  @Put('security-floors/:component')
  @HttpCode(204)
  @Requires('Platform')
  @ApiOperation({ summary: 'Raise the lowest accepted security version of a component (never lowers it)' })
  async setFloor(
    @CurrentPrincipal() p: Principal,
    @Param('component', new ZodValidationPipe(ComponentParam)) component: string,
    @Body(new ZodValidationPipe(FloorBody)) body: z.infer<typeof FloorBody>,
  ) {
    await this.tenancy.setFloor(p, component, body.minVersion);
  }
}

@ApiTags('tenant')
@ApiBearerAuth()
@Controller('v1')
export class TenantController {
  constructor(
    @Inject(TenancyService) private readonly tenancy: TenancyService,
    @Inject(RotationService) private readonly rotation: RotationService,
  ) {}

  @Get('whoami')
  @Requires('Authenticated')
  @ApiOperation({
    summary: "Who the calling token is: the platform operator, or a tenant's role (what `rampart login` checks a token with)",
  })
  whoami(@CurrentPrincipal() p: Principal): { kind: 'platform' } | { kind: 'tenant'; tenantId: string; role: string } {
    // Every valid token is answered 200, so a client never has to read a refusal as an identity.
    return p.kind === 'platform' ? { kind: 'platform' } : { kind: 'tenant', tenantId: p.tenantId, role: p.role };
  }

  @Post('tokens')
  @Requires('Administrator')
  @ApiOperation({ summary: 'Create an API token for this tenant (shown once), optionally expiring after expiresInSeconds' })
  createToken(@CurrentPrincipal() p: Principal, @Body(new ZodValidationPipe(TokenCreateBody)) body: z.infer<typeof TokenCreateBody>) {
    return this.tenancy.createToken(p, body.role, body.expiresInSeconds);
  }

  @Get('tokens')
  @Requires('Administrator')
  @ApiOperation({ summary: "This tenant's API tokens: id, role, created, expires, revoked (never the token)" })
  tokens(@CurrentPrincipal() p: Principal) {
    return this.tenancy.listTokens(p);
  }

  @Post('tokens/:tokenId/revoke')
  @HttpCode(200)
  @Requires('Administrator')
  @ApiOperation({ summary: 'Revoke an API token: refused at once by every service (idempotent)' })
  revokeToken(@CurrentPrincipal() p: Principal, @Param('tokenId', new ZodValidationPipe(TokenIdParam)) id: string) {
    return this.tenancy.revokeToken(p, id);
  }

  @Get('devices')
  @Requires('Reader')
  @ApiOperation({ summary: "This tenant's devices" })
  devices(@CurrentPrincipal() p: Principal, @Query(new ZodValidationPipe(ListQuery)) q: z.infer<typeof ListQuery>) {
    return this.tenancy.listDevices(p, q.limit, q.offset);
  }

  @Get('devices/:deviceId')
  @Requires('Reader')
  device(@CurrentPrincipal() p: Principal, @Param('deviceId', new ZodValidationPipe(DeviceIdParam)) id: string) {
    return this.tenancy.device(p, id);
  }

  @Put('devices/:deviceId/claim')
  @Requires('Administrator')
  @ApiOperation({
    summary:
      "Claim a device: idempotent for this tenant, permanent, refused (409) if another tenant holds it. Answers the tenant's update root (TUF root metadata) to provision the device with; null if the updates service did not answer",
  })
  claim(@CurrentPrincipal() p: Principal, @Param('deviceId', new ZodValidationPipe(DeviceIdParam)) id: string) {
    return this.tenancy.claim(p, id);
  }

  @Post('devices/:deviceId/revoke')
  @Requires('Administrator')
  revoke(
    @CurrentPrincipal() p: Principal,
    @Param('deviceId', new ZodValidationPipe(DeviceIdParam)) id: string,
    @Body(new ZodValidationPipe(RevokeBody)) body: z.infer<typeof RevokeBody>,
  ) {
    return this.tenancy.setRevoked(p, id, true, body.reason);
  }

  @Post('devices/:deviceId/unrevoke')
  @Requires('Administrator')
  unrevoke(@CurrentPrincipal() p: Principal, @Param('deviceId', new ZodValidationPipe(DeviceIdParam)) id: string) {
    return this.tenancy.setRevoked(p, id, false, null);
  }

  @Get('attestations')
  @Requires('Reader')
  @ApiOperation({ summary: 'Attestation verdicts of this tenant, newest first' })
  attestations(@CurrentPrincipal() p: Principal, @Query(new ZodValidationPipe(ListQuery)) q: z.infer<typeof ListQuery>) {
    return this.tenancy.attestations(p, q.limit);
  }

  @Get('audit')
  @Requires('Administrator')
  audit(@CurrentPrincipal() p: Principal, @Query(new ZodValidationPipe(ListQuery)) q: z.infer<typeof ListQuery>) {
    return this.tenancy.auditLog(p, q.limit);
  }

  @Post('ca-certificates/successor')
  @Requires('Administrator')
  @ApiOperation({ summary: 'Create the successor tenant CA now (published in the trust bundle, not yet issuing)' })
  async successor(@CurrentPrincipal() p: Principal) {
    return { created: await this.rotation.prepare(tenantIdOf(p), actorOf(p)) };
  }

  @Post('ca-certificates/rotate')
  @Requires('Administrator')
  @ApiOperation({ summary: 'Make the successor CA the issuing one (creating it first if needed); the old one stays trusted' })
  async rotate(@CurrentPrincipal() p: Principal) {
    await this.rotation.prepare(tenantIdOf(p), actorOf(p));
    return { rotated: await this.rotation.activate(tenantIdOf(p), actorOf(p)) };
  }

  @Get('ca-certificates')
  @Requires('Reader')
  @ApiOperation({ summary: "This tenant's CA certificates (current, next) and the platform root" })
  caCertificates(@CurrentPrincipal() p: Principal) {
    return this.tenancy.caCertificates(p);
  }
}
