import { createHash } from 'node:crypto';
import { ForbiddenException, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Counter, Meter } from '@opentelemetry/api';
import { Subject } from '@rampart/contracts';
import type { Logger, MessageBus } from '@rampart/service-kit';
import { TypedBus } from '@rampart/service-kit';

export interface TenantPrincipal {
  readonly tenantId: string;
  readonly role: 'Administrator' | 'Contributor' | 'Reader';
}

/** A token's answer is trusted this long before the attestation service is asked again (so a revoked token stops within it). */
const CACHE_MS = 30_000;
const CACHE_SIZE = 10_000;

interface AuthenticatedRequest {
  headers: Record<string, string | string[] | undefined>;
  principal?: TenantPrincipal;
  method?: string;
  url?: string;
}

/**
 * Tenant API tokens, checked with the attestation service (which holds
 * them) by their SHA-256 over the bus; every route here needs at least a
 * Reader. Every denial is logged and counted.
 */
export class TenantTokenGuard implements CanActivate {
  private readonly cache = new Map<string, { principal: TenantPrincipal | undefined; until: number }>();
  private readonly typed: TypedBus;
  private readonly denials: Counter;

  constructor(
    bus: MessageBus,
    private readonly logger: Logger,
    meter: Meter,
  ) {
    this.typed = new TypedBus(bus);
    this.denials = meter.createCounter('rampart_failures_api_denials_total', { description: 'REST requests refused, by reason' });
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (!request.url?.startsWith('/v1/')) return true; // ops endpoints and the OpenAPI document
    const header = request.headers['authorization'];
    const match = typeof header === 'string' ? /^Bearer (\S{16,512})$/.exec(header) : null;
    const principal = match?.[1] === undefined ? undefined : await this.principalOf(match[1]);
    if (principal === undefined) {
      this.denials.add(1, { reason: 'unauthenticated' });
      this.logger.warn({ method: request.method, url: request.url }, 'request refused: no valid tenant token');
      throw new UnauthorizedException({ code: 'UNAUTHENTICATED', message: 'a valid tenant bearer token is required' });
    }
    request.principal = principal;
    return true;
  }

  private async principalOf(token: string): Promise<TenantPrincipal | undefined> {
    const tokenHash = createHash('sha256').update(token).digest('hex');
    const cached = this.cache.get(tokenHash);
    if (cached !== undefined && cached.until > Date.now()) return cached.principal;
    const reply = await this.typed.request(Subject.attestationTokenIntrospect, { tokenHash }).catch((error: unknown) => {
      this.logger.error({ err: error }, 'token check failed: attestation service unavailable');
      this.denials.add(1, { reason: 'unavailable' });
      throw new ForbiddenException({ code: 'UNAVAILABLE', message: 'tokens cannot be checked right now' });
    });
    const principal = reply.valid ? { tenantId: reply.tenantId, role: reply.role } : undefined;
    if (this.cache.size >= CACHE_SIZE) this.cache.clear();
    this.cache.set(tokenHash, { principal, until: Date.now() + CACHE_MS });
    return principal;
  }
}
