import { createHash, timingSafeEqual } from 'node:crypto';
import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import type { Counter } from '@opentelemetry/api';
import { AccessDeniedError, UnauthenticatedError, bearerTokenOf, requiredAccess, type Logger } from '@rampart/service-kit';
import type { AttestationRepository } from '../attestation/attestation.repository.js';
import { satisfies, type Principal, type Requirement } from './principal.js';

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
 * Decided on the matched route's declared requirement (`@Requires`,
 * `@Public`), never on the URL; a route that declares nothing is refused, and
 * a write never runs with less than Contributor. Tokens are looked up on every
 * request (no cache), so a revoked or expired one stops at once here. Every
 * denial is logged and counted.
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
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const access = requiredAccess(this.reflector, context, request.method);
    if (access.kind === 'public') return true;
    if (access.kind === 'undeclared') {
      this.deny(request, 'undeclared', 'Platform');
      throw new AccessDeniedError('this route declares no access requirement');
    }
    const requirement: Requirement = access.needed;
    const principal = await this.authenticate(request);
    if (principal === undefined) {
      this.deny(request, 'unauthenticated', requirement);
      throw new UnauthenticatedError('a valid bearer token is required');
    }
    if (!satisfies(principal, requirement)) {
      this.deny(request, 'forbidden', requirement, principal);
      throw new AccessDeniedError(`requires ${requirement}`);
    }
    request.principal = principal;
    return true;
  }

  private async authenticate(request: AuthenticatedRequest): Promise<Principal | undefined> {
    const token = bearerTokenOf(request.headers['authorization']);
    if (token === undefined) return undefined;
    const hashed = Buffer.from(hashToken(token), 'hex');
    if (timingSafeEqual(hashed, this.platformToken)) return { kind: 'platform' };
    const found = await this.repository.findToken(hashed.toString('hex'));
    return found === undefined ? undefined : { kind: 'tenant', tenantId: found.tenantId, role: found.role, tokenId: found.id };
  }

  private deny(request: AuthenticatedRequest, outcome: string, requirement: Requirement, principal?: Principal): void {
    this.denials.add(1, { outcome });
    // A route without a requirement is a programming error, not a caller's: an error, so it is seen.
    this.logger[outcome === 'undeclared' ? 'error' : 'warn'](
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
