import { createHash } from 'node:crypto';
import { ForbiddenException, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Counter, Meter } from '@opentelemetry/api';
import { Subject } from '@rampart/contracts';
import type { MessageBus } from './bus/message-bus.js';
import { TypedBus } from './bus/typed-bus.js';
import type { Logger } from './logger.js';

export type TenantRole = 'Administrator' | 'Contributor' | 'Reader';

export interface TenantPrincipal {
  readonly tenantId: string;
  readonly role: TenantRole;
}

const RANK: Readonly<Record<TenantRole, number>> = { Reader: 0, Contributor: 1, Administrator: 2 };

/** Reads need a Reader; anything that changes state a Contributor (a Reader can change nothing). */
function roleNeededFor(method: string | undefined): TenantRole {
  return method === 'GET' || method === 'HEAD' ? 'Reader' : 'Contributor';
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
 * Tenant API tokens for a service's `/v1/` REST routes, checked with the
 * attestation service (which holds them) by their SHA-256 over the bus:
 * reads need a Reader, changes a Contributor. Every denial is logged and
 * counted as `rampart_<service>_api_denials_total`.
 */
export class TenantTokenGuard implements CanActivate {
  private readonly cache = new Map<string, { principal: TenantPrincipal | undefined; until: number }>();
  private readonly typed: TypedBus;
  private readonly denials: Counter;

  constructor(
    service: string,
    bus: MessageBus,
    private readonly logger: Logger,
    meter: Meter,
  ) {
    this.typed = new TypedBus(bus);
    this.denials = meter.createCounter(`rampart_${service}_api_denials_total`, { description: 'REST requests refused, by reason' });
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
    const needed = roleNeededFor(request.method);
    if (RANK[principal.role] < RANK[needed]) {
      this.denials.add(1, { reason: 'role' });
      this.logger.warn(
        { method: request.method, url: request.url, tenantId: principal.tenantId, role: principal.role },
        'request refused: role',
      );
      throw new ForbiddenException({ code: 'FORBIDDEN', message: `this needs the ${needed} role; the token has ${principal.role}` });
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
