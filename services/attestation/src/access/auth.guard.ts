import { createHash, timingSafeEqual } from 'node:crypto';
import { ForbiddenException, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import type { Counter } from '@opentelemetry/api';
import type { Logger } from '@rampart/service-kit';
import type { AttestationRepository } from '../attestation/attestation.repository.js';
import { REQUIREMENT, satisfies, type Principal, type Requirement } from './principal.js';

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

interface AuthenticatedRequest {
  headers: Record<string, string | string[] | undefined>;
  principal?: Principal;
  method?: string;
  url?: string;
}

/**
 * Bearer tokens: the platform operator's (from the environment, compared in
 * constant time) or a tenant API token (stored only as a SHA-256 hash).
 * Every route declares what it requires; a route without a requirement is
 * refused. Every denial is logged and counted.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly platformToken: Buffer;

  constructor(
    private readonly reflector: Reflector,
    private readonly repository: AttestationRepository,
    platformAdminToken: string,
    private readonly logger: Logger,
    private readonly denials: Counter,
  ) {
    this.platformToken = Buffer.from(hashToken(platformAdminToken), 'hex');
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const requirement = this.reflector.getAllAndOverride<Requirement | undefined>(REQUIREMENT, [context.getHandler(), context.getClass()]);
    if (requirement === undefined) return true; // ops endpoints (health, metrics) carry no requirement
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const principal = await this.authenticate(request);
    if (principal === undefined) {
      this.deny(request, 'unauthenticated', requirement);
      throw new UnauthorizedException({ code: 'UNAUTHENTICATED', message: 'a valid bearer token is required' });
    }
    if (!satisfies(principal, requirement)) {
      this.deny(request, 'forbidden', requirement, principal);
      throw new ForbiddenException({ code: 'FORBIDDEN', message: `requires ${requirement}` });
    }
    request.principal = principal;
    return true;
  }

  private async authenticate(request: AuthenticatedRequest): Promise<Principal | undefined> {
    const header = request.headers['authorization'];
    const match = typeof header === 'string' ? /^Bearer (\S{16,512})$/.exec(header) : null;
    if (match === null) return undefined;
    const token = match[1] ?? '';
    const hashed = Buffer.from(hashToken(token), 'hex');
    if (timingSafeEqual(hashed, this.platformToken)) return { kind: 'platform' };
    const found = await this.repository.findToken(hashed.toString('hex'));
    return found === undefined ? undefined : { kind: 'tenant', tenantId: found.tenantId, role: found.role, tokenId: found.id };
  }

  private deny(request: AuthenticatedRequest, outcome: string, requirement: Requirement, principal?: Principal): void {
    this.denials.add(1, { outcome });
    this.logger.warn(
      {
        outcome,
        requirement,
        method: request.method,
        url: request.url,
        tenantId: principal?.kind === 'tenant' ? principal.tenantId : undefined,
      },
      'API request denied',
    );
  }
}
