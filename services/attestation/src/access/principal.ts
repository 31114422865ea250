import { roleSatisfies, type AccessRequirement } from '@rampart/service-kit';
import type { Role } from '../attestation/attestation.repository.js';

export type Principal =
  { readonly kind: 'platform' } | { readonly kind: 'tenant'; readonly tenantId: string; readonly role: Role; readonly tokenId: string };

/** What a route that needs a caller needs: the platform operator, any valid token, or a tenant role (each includes the ones below it). */
export type Requirement = Exclude<AccessRequirement, 'Public'>;

export function satisfies(principal: Principal, requirement: Requirement): boolean {
  if (requirement === 'Platform') return principal.kind === 'platform';
  if (requirement === 'Authenticated') return true;
  return principal.kind === 'tenant' && roleSatisfies(principal.role, requirement);
}

export function actorOf(principal: Principal): string {
  return principal.kind === 'platform' ? 'platform-operator' : `token:${principal.tokenId}`;
}

/** The tenant of a tenant principal; routes that call this require a tenant role. */
export function tenantIdOf(principal: Principal): string {
  if (principal.kind !== 'tenant') throw new Error('a tenant principal is required');
  return principal.tenantId;
}
