import { createHash } from 'node:crypto';
import type { CanActivate, ExecutionContext, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Counter, Meter } from '@opentelemetry/api';
import { Subject, TokenRevokedEventSchema } from '@rampart/contracts';
import { bearerTokenOf, requiredAccess, roleSatisfies, type TenantRole } from './access/access.js';
import { AccessDeniedError, CredentialCheckUnavailableError, UnauthenticatedError } from './access/access-errors.js';
import type { Closable, MessageBus } from './bus/message-bus.js';
import { decodeJson, TypedBus } from './bus/typed-bus.js';
import type { Logger } from './logger.js';

export interface TenantPrincipal {
  readonly tenantId: string;
  readonly role: TenantRole;
}

/**
 * A token's answer is trusted this long before the attestation service is
 * asked again. Revocation reaches every guard at once by broadcast; this only
 * bounds how long a guard that missed the broadcast (a NATS reconnect) keeps it.
 */
const CACHE_MS = 10_000;
const CACHE_SIZE = 10_000;

interface AuthenticatedRequest {
  headers: Record<string, string | string[] | undefined>;
  principal?: TenantPrincipal;
  method?: string;
  url?: string;
}

/**
 * Tenant API tokens for a service's REST routes, checked with the attestation
 * service (which holds them) by their SHA-256 over the bus. Decided on the
 * matched route's declared requirement (`@Requires`, `@Public`), never on the
 * URL: a route that declares nothing is refused. A write never runs with less
 * than Contributor. Every denial is logged and counted as
 * `rampart_<service>_api_denials_total`.
 */
export class TenantTokenGuard implements CanActivate, OnModuleInit, OnApplicationShutdown {
  private readonly cache = new Map<string, { principal: TenantPrincipal | undefined; until: number }>();
  /** Tokens revoked lately, so an introspection already in flight when the broadcast came cannot cache them again. */
  private readonly revoked = new Set<string>();
  private readonly typed: TypedBus;
  private readonly denials: Counter;
  private readonly reflector = new Reflector();
  private subscription: Promise<Closable | undefined> | undefined;

  constructor(
    private readonly service: string,
    private readonly bus: MessageBus,
    private readonly logger: Logger,
    meter: Meter,
  ) {
    this.typed = new TypedBus(bus);
    this.denials = meter.createCounter(`rampart_${service}_api_denials_total`, { description: 'REST requests refused, by reason' });
  }

  /** Subscribes when the app starts, not when the guard is made: a start that fails before then leaves nothing on a shared bus. */
  async onModuleInit(): Promise<void> {
    this.subscription ??= this.bus
      .listen(Subject.attestationTokenRevoked, (data) => this.onRevoked(data))
      .catch((error: unknown) => {
        // Without the broadcast a revoked token still stops when its cache entry expires.
        this.logger.error({ err: error }, 'token revocations not received: cached tokens expire on their own');
        return undefined;
      });
    await this.subscription;
  }

  async onApplicationShutdown(): Promise<void> {
    await (await this.subscription)?.close();
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true; // bus handlers: the transport validates, the bus is trusted
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const access = requiredAccess(this.reflector, context, request.method);
    if (access.kind === 'public') return true;
    if (access.kind === 'undeclared') {
      this.deny(request, 'undeclared');
      this.logger.error({ method: request.method, url: request.url }, 'route declares no access requirement: refused');
      throw new AccessDeniedError('this route declares no access requirement');
    }
    const token = bearerTokenOf(request.headers['authorization']);
    const principal = token === undefined ? undefined : await this.principalOf(token, request);
    if (principal === undefined) {
      this.deny(request, 'unauthenticated');
      throw new UnauthenticatedError('a valid tenant bearer token is required');
    }
    const { needed } = access;
    if (needed === 'Platform') {
      this.deny(request, 'role', principal);
      throw new AccessDeniedError('this needs the platform operator');
    }
    // Any tenant token is a valid principal; these services know no platform operator to admit besides.
    if (needed !== 'Authenticated' && !roleSatisfies(principal.role, needed)) {
      this.deny(request, 'role', principal);
      throw new AccessDeniedError(`this needs the ${needed} role; the token has ${principal.role}`);
    }
    request.principal = principal;
    return true;
  }

  private deny(
    request: AuthenticatedRequest,
    reason: 'undeclared' | 'unauthenticated' | 'role' | 'unavailable',
    principal?: TenantPrincipal,
  ): void {
    this.denials.add(1, { reason });
    if (reason === 'undeclared') return; // logged as an error by the caller
    this.logger.warn(
      { service: this.service, reason, method: request.method, url: request.url, tenantId: principal?.tenantId, role: principal?.role },
      'request refused',
    );
  }

  private async principalOf(token: string, request: AuthenticatedRequest): Promise<TenantPrincipal | undefined> {
    const tokenHash = createHash('sha256').update(token).digest('hex');
    const now = Date.now();
    if (this.revoked.has(tokenHash)) return undefined;
    const cached = this.cache.get(tokenHash);
    if (cached !== undefined && cached.until > now) return cached.principal;
    const reply = await this.typed.request(Subject.attestationTokenIntrospect, { tokenHash }).catch((error: unknown) => {
      this.logger.error({ err: error }, 'token check failed: attestation service unavailable');
      this.deny(request, 'unavailable');
      // Not the caller's fault and not a verdict on the token: try again later.
      throw new CredentialCheckUnavailableError('tokens cannot be checked right now');
    });
    if (this.revoked.has(tokenHash)) return undefined;
    const principal = reply.valid ? { tenantId: reply.tenantId, role: reply.role } : undefined;
    const until = Math.min(now + CACHE_MS, reply.valid && reply.expiresAt !== undefined ? reply.expiresAt : Infinity);
    if (this.cache.size >= CACHE_SIZE) this.cache.clear();
    this.cache.set(tokenHash, { principal, until });
    return principal;
  }

  private onRevoked(data: Uint8Array): void {
    let tokenHash: string;
    try {
      tokenHash = TokenRevokedEventSchema.parse(decodeJson(data)).tokenHash;
    } catch (error) {
      this.logger.warn({ err: error }, 'malformed token revocation ignored');
      return;
    }
    this.cache.delete(tokenHash);
    // A revoked token never comes back, so remembering it is only needed while an answer could be in flight.
    if (this.revoked.size >= CACHE_SIZE) this.revoked.clear();
    this.revoked.add(tokenHash);
  }
}
