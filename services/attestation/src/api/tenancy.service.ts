import { randomBytes } from 'node:crypto';
import { DomainError, systemClock, type Clock } from '@rampart/service-kit';
import type { DeviceRevocationEvent, ErrorCode } from '@rampart/contracts';
import type { TenantAuthorities } from '../ca/tenant-authorities.js';
import { hashToken } from '../access/auth.guard.js';
import { actorOf, tenantIdOf, type Principal } from '../access/principal.js';
import type { AttestationRepository, DeviceRow, Role, TokenRow } from '../attestation/attestation.repository.js';

export class TenancyError extends DomainError {
  override readonly name = 'TenancyError';
  constructor(
    readonly code: typeof ErrorCode.notFound | typeof ErrorCode.conflict,
    message: string,
  ) {
    super(message);
  }
}

/** Tokens are shown once; only their hash is stored. */
function newToken(): string {
  return `rmp_${randomBytes(32).toString('base64url')}`;
}

/**
 * Tenants, tokens, device claims and revocation, and the tenant's logs.
 * Every query is scoped to the caller's tenant; every change is audited.
 */
export class TenancyService {
  constructor(
    private readonly repository: AttestationRepository,
    private readonly authorities: TenantAuthorities,
    /** Tells every gateway replica, which disconnects or readmits the device. */
    private readonly announceRevocation: (event: DeviceRevocationEvent) => Promise<void>,
    /** Tells every attestation replica to read policy again. */
    private readonly announcePolicyChange: () => Promise<void>,
    /** Tells the updates service, durably, which makes the tenant's update repository. */
    private readonly announceTenantCreated: (tenantId: string) => Promise<void>,
    /** The tenant's current TUF root from the updates service, or null when it cannot be had now. */
    private readonly updateRootOf: (tenantId: string) => Promise<string | null>,
    /** Tells every service's token guard to drop a revoked token now, not when its cache expires; never rejects. */
    private readonly announceTokenRevocation: (tokenHash: string) => Promise<void>,
    private readonly clock: Clock = systemClock,
  ) {}

  async createTenant(principal: Principal, id: string, name: string): Promise<{ id: string; name: string; administratorToken: string }> {
    const token = newToken();
    await this.repository.transaction(async (tx) => {
      if (!(await tx.createTenant(id, name))) throw new TenancyError('CONFLICT', `tenant ${id} exists`);
      await this.authorities.createTenantCa(id, tx);
      await tx.createToken(id, 'Administrator', hashToken(token));
      await tx.audit({ tenantId: id, actor: actorOf(principal), action: 'tenant.create', subject: id, detail: { name } });
    });
    // After the commit: the tenant's update repository exists before any of its devices asks for metadata.
    await this.announceTenantCreated(id);
    return { id, name, administratorToken: token };
  }

  /** A new token, shown once; `expiresInSeconds` gives it a lifetime (none: it lasts until revoked). */
  async createToken(
    principal: Principal,
    role: Role,
    expiresInSeconds?: number,
  ): Promise<{ id: string; token: string; role: Role; expiresAt: string | null }> {
    const tenantId = tenantIdOf(principal);
    const token = newToken();
    const expiresAt = expiresInSeconds === undefined ? null : this.clock.now() + expiresInSeconds * 1000;
    const id = await this.repository.createToken(tenantId, role, hashToken(token), expiresAt);
    await this.repository.audit({
      tenantId,
      actor: actorOf(principal),
      action: 'token.create',
      subject: id,
      detail: { role, expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString() },
    });
    return { id, token, role, expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString() };
  }

  listTokens(principal: Principal): Promise<TokenRow[]> {
    return this.repository.listTokens(tenantIdOf(principal));
  }

  /**
   * Revokes one of the tenant's tokens (idempotent). Another tenant's token
   * and an unknown id look the same (404). The tenant's last active
   * Administrator token is kept (409): without it no one could make tokens.
   */
  async revokeToken(principal: Principal, id: string): Promise<{ id: string; revoked: true }> {
    const tenantId = tenantIdOf(principal);
    const tokenHash = await this.repository.transaction(async (tx) => {
      // One revocation per tenant at a time: two revoking the last two Administrator tokens at once would each still
      // count the other as active, and both commit.
      await tx.lockTenantTokens(tenantId);
      const token = await tx.tokenOfTenant(tenantId, id);
      if (token === undefined) throw new TenancyError('NOT_FOUND', 'no such token');
      if (token.revoked) return token.tokenHash;
      if (token.role === 'Administrator' && (await tx.otherActiveAdministrators(tenantId, id)) === 0) {
        throw new TenancyError('CONFLICT', "this is the tenant's last active Administrator token; create another first");
      }
      await tx.revokeToken(id);
      await tx.audit({ tenantId, actor: actorOf(principal), action: 'token.revoke', subject: id, detail: { role: token.role } });
      return token.tokenHash;
    });
    // After the commit, so a guard that asks again at once hears "revoked"; again on a repeated revoke, so a
    // broadcast lost the first time (NATS down) is sent then. The announcement never fails the revocation.
    await this.announceTokenRevocation(tokenHash);
    return { id, revoked: true };
  }

  listDevices(principal: Principal, limit: number, offset: number): Promise<DeviceRow[]> {
    return this.repository.listDevices(tenantIdOf(principal), limit, offset);
  }

  async device(principal: Principal, deviceId: string): Promise<DeviceRow> {
    const row = await this.repository.device(tenantIdOf(principal), deviceId);
    // Another tenant's device and an unknown one look the same: nothing leaks.
    if (row === undefined) throw new TenancyError('NOT_FOUND', 'no such device');
    return row;
  }

  /**
   * Claims a device for the caller's tenant, and answers with what the
   * device is to be provisioned with: the tenant's current TUF root, which
   * it pins (TUF §5.2) and from which every later root must chain. Null
   * when the updates service cannot answer now; claiming again (idempotent)
   * asks again.
   */
  async claim(
    principal: Principal,
    deviceId: string,
  ): Promise<{ deviceId: string; claimed: 'claimed' | 'already-yours'; updateRoot: string | null }> {
    const tenantId = tenantIdOf(principal);
    const outcome = await this.repository.claim(deviceId, tenantId);
    await this.repository.audit({ tenantId, actor: actorOf(principal), action: `device.claim.${outcome}`, subject: deviceId });
    if (outcome === 'claimed-by-other') throw new TenancyError('CONFLICT', 'the device is claimed by another tenant');
    return { deviceId, claimed: outcome, updateRoot: await this.updateRootOf(tenantId) };
  }

  async setRevoked(principal: Principal, deviceId: string, revoked: boolean, reason: string | null): Promise<DeviceRow> {
    const tenantId = tenantIdOf(principal);
    await this.repository.transaction(async (tx) => {
      if (!(await tx.setRevoked(deviceId, tenantId, revoked, reason))) throw new TenancyError('NOT_FOUND', 'no such device');
      const certificatesRevoked = revoked ? await tx.revokeCertificates(deviceId) : 0;
      await tx.audit({
        tenantId,
        actor: actorOf(principal),
        action: revoked ? 'device.revoke' : 'device.unrevoke',
        subject: deviceId,
        detail: { reason, certificatesRevoked },
      });
    });
    // After the commit: every gateway replica disconnects (or readmits) the device.
    await this.announceRevocation({ deviceId, revoked, reason });
    return this.device(principal, deviceId);
  }

  attestations(principal: Principal, limit: number) {
    return this.repository.verdicts(tenantIdOf(principal), limit);
  }

  auditLog(principal: Principal, limit: number) {
    return this.repository.auditLog(tenantIdOf(principal), limit);
  }

  caCertificates(principal: Principal) {
    return this.authorities.caCertificates(tenantIdOf(principal));
  }

  async setMeasurement(
    principal: Principal,
    stage: string,
    sha256: string,
    status: 'released' | 'revoked',
    imageVersion: string | null,
  ): Promise<void> {
    await this.repository.upsertMeasurement(stage, sha256, status, imageVersion);
    await this.repository.audit({
      tenantId: null,
      actor: actorOf(principal),
      action: `measurement.${status}`,
      subject: `${stage}:${sha256}`,
      detail: { imageVersion },
    });
    await this.announcePolicyChange();
  }

  async setFloor(principal: Principal, component: string, minVersion: number): Promise<void> {
    await this.repository.setFloor(component, minVersion);
    await this.repository.audit({
      tenantId: null,
      actor: actorOf(principal),
      action: 'security-floor.raise',
      subject: component,
      detail: { minVersion },
    });
    await this.announcePolicyChange();
  }
}
