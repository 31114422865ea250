import { SetMetadata, type ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';

export type TenantRole = 'Administrator' | 'Contributor' | 'Reader';

/**
 * What a route needs: nothing (`Public`: health, metrics, CRLs), the platform
 * operator, a tenant role (each role includes the ones below it), or any
 * valid token (`Authenticated`: the platform operator's or any tenant role's,
 * for a route that tells a caller who it is). Every route declares one, on its
 * handler or its controller; the guards refuse a route that declares none, so
 * a route added without thought is closed.
 */
export type AccessRequirement = 'Public' | 'Platform' | 'Authenticated' | TenantRole;

export const ACCESS_REQUIREMENT = 'rampart:access-requirement';

export const Requires = (requirement: AccessRequirement): ClassDecorator & MethodDecorator => SetMetadata(ACCESS_REQUIREMENT, requirement);

/** Says out loud that a route needs no credentials. */
export const Public = (): ClassDecorator & MethodDecorator => Requires('Public');

/** The matched route's requirement (the handler's over its controller's); undefined when it declares none. */
export function requirementOf(reflector: Reflector, context: ExecutionContext): AccessRequirement | undefined {
  return reflector.getAllAndOverride<AccessRequirement | undefined>(ACCESS_REQUIREMENT, [context.getHandler(), context.getClass()]);
}

const RANK: Readonly<Record<TenantRole, number>> = { Reader: 0, Contributor: 1, Administrator: 2 };

export function roleSatisfies(role: TenantRole, needed: TenantRole): boolean {
  return RANK[role] >= RANK[needed];
}

/**
 * The tenant role a request needs: what the route declares, and never less
 * than Contributor for a method that changes state, so a write route that
 * inherits its controller's Reader still cannot be called by a Reader.
 */
export function tenantRoleNeeded(declared: TenantRole, method: string | undefined): TenantRole {
  const floor: TenantRole = method === 'GET' || method === 'HEAD' ? 'Reader' : 'Contributor';
  return roleSatisfies(declared, floor) ? declared : floor;
}

/** What the matched route asks of a request: nothing, refusal (it declares nothing), or a principal with `needed`. */
export type RequiredAccess =
  | { readonly kind: 'public' }
  | { readonly kind: 'undeclared' }
  | { readonly kind: 'principal'; readonly needed: 'Platform' | 'Authenticated' | TenantRole };

/**
 * The one reading of a route's declaration that every guard makes: public routes pass, a route that declares
 * nothing is refused, and a tenant role is raised to the write floor for a method that changes state.
 * `Authenticated` admits any token only to read: on a write it is the write floor, so no route's
 * declaration lets a Reader change state.
 */
export function requiredAccess(reflector: Reflector, context: ExecutionContext, method: string | undefined): RequiredAccess {
  const declared = requirementOf(reflector, context);
  if (declared === undefined) return { kind: 'undeclared' };
  if (declared === 'Public') return { kind: 'public' };
  if (declared === 'Platform') return { kind: 'principal', needed: declared };
  if (declared === 'Authenticated') {
    const floor = tenantRoleNeeded('Reader', method);
    return { kind: 'principal', needed: floor === 'Reader' ? declared : floor };
  }
  return { kind: 'principal', needed: tenantRoleNeeded(declared, method) };
}

/**
 * The token of an `Authorization: Bearer <token>` header. The scheme is
 * matched case-insensitively (RFC 7235 §2.1: "bearer", "BEARER" are the same
 * scheme); the token is 16-512 visible characters.
 */
export function bearerTokenOf(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  return /^bearer +(\S{16,512})$/i.exec(header)?.[1];
}
