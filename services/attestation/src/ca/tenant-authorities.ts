import { createHash, X509Certificate } from 'node:crypto';
import { ErrorCode } from '@rampart/contracts';
import { DomainError } from '@rampart/service-kit';
import { CertificateAuthority, OperationalCertificateIssuer, derToPem } from '@rampart/trust';
import type { AttestationRepository, StoredCrl, TenantCaRow } from '../attestation/attestation.repository.js';
import type { KeyVault } from '@rampart/trust';

const HOUR_MS = 3_600_000;
/** Certificates start a little in the past so small device clock skew does not reject them. */
const BACKDATE_MS = 5 * 60_000;
/** A CRL promises its next update within a day and is made again every hour. */
const CRL_VALIDITY_MS = 24 * HOUR_MS;
const CRL_REFRESH_MS = HOUR_MS;
const DAY_MS = 24 * HOUR_MS;
/** A successor CA is made this long before the current one expires … */
export const SUCCESSOR_LEAD_DAYS = 30;
/** … and becomes the issuing CA this long before. */
export const ACTIVATE_LEAD_DAYS = 7;

/** The tenant has no CA (no such tenant), or none by the id asked for. */
export class TenantCaNotFoundError extends DomainError {
  override readonly name = 'TenantCaNotFoundError';
  readonly code = ErrorCode.notFound;
}

export interface IssuedCertificate {
  readonly certificatePem: string;
  readonly chainPem: string;
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface AuthoritySettings {
  readonly deviceCertValidityHours: number;
  readonly tenantCaValidityDays: number;
  /** Where relying parties reach this service (no trailing slash): the CRL distribution points in issued certificates. */
  readonly publicBaseUrl: string;
}

/**
 * The platform root (its key from a mounted secret) and one intermediate CA
 * per tenant (`pathlen:0`), whose private keys are sealed at rest. Issues
 * operational device certificates from the tenant's current CA.
 */
export class TenantAuthorities {
  private readonly issuers = new Map<string, { caId: string; issuer: OperationalCertificateIssuer; chainPem: string }>();

  constructor(
    private readonly platform: CertificateAuthority,
    private readonly repository: AttestationRepository,
    private readonly vault: KeyVault,
    private readonly settings: AuthoritySettings,
  ) {}

  /**
   * The platform root's row in the `crls` table (tenant CAs are there by
   * their id): by its certificate, so a replaced root never serves the CRL
   * its predecessor signed.
   */
  private get platformCrlIssuer(): string {
    return `platform:${createHash('sha256').update(new Uint8Array(this.platform.certificate.rawData)).digest('hex')}`;
  }

  /** Where the platform root's CRL is published: named in every tenant CA certificate. */
  get platformCrlUrl(): string {
    return `${this.settings.publicBaseUrl}/v1/platform/crl`;
  }

  /** Where one tenant CA's CRL is published: named in every certificate that CA issues. */
  tenantCaCrlUrl(tenantId: string, caId: string): string {
    return `${this.settings.publicBaseUrl}/v1/tenants/${encodeURIComponent(tenantId)}/ca-certificates/${caId}/crl`;
  }

  /** Retired CAs stay trusted for one device-certificate lifetime after they stop issuing. */
  private get overlapMs(): number {
    return this.settings.deviceCertValidityHours * HOUR_MS;
  }

  get platformCertificatePem(): string {
    return this.platform.certificatePem;
  }

  /** Creates the successor CA ('next') if there is none; returns whether it made one. */
  async prepareSuccessor(tenantId: string, repository = this.repository): Promise<boolean> {
    if ((await repository.nextTenantCa(tenantId)) !== undefined) return false;
    await this.createTenantCa(tenantId, repository, 'next');
    return true;
  }

  /**
   * The rotation policy: a successor is made `SUCCESSOR_LEAD_DAYS` before the
   * current CA expires and takes over `ACTIVATE_LEAD_DAYS` before; until then
   * both are published in the trust bundle. Returns what it did.
   */
  async rotateIfDue(tenantId: string, now: number): Promise<'none' | 'prepared' | 'activated'> {
    const current = await this.repository.currentTenantCa(tenantId);
    if (current === undefined) return 'none';
    const left = new Date(current.notAfter).getTime() - now;
    if (left < ACTIVATE_LEAD_DAYS * DAY_MS && (await this.repository.nextTenantCa(tenantId)) !== undefined) {
      await this.repository.activateNextTenantCa(tenantId);
      return 'activated';
    }
    if (left < SUCCESSOR_LEAD_DAYS * DAY_MS && (await this.prepareSuccessor(tenantId))) return 'prepared';
    return 'none';
  }

  async createTenantCa(tenantId: string, repository = this.repository, status: 'current' | 'next' = 'current'): Promise<void> {
    const ca = await this.platform.issueIntermediate(`Rampart tenant ${tenantId} CA`, this.settings.tenantCaValidityDays, {
      tenantId,
      crlDistributionPoint: this.platformCrlUrl,
    });
    const stored = await ca.export();
    await repository.insertTenantCa(
      tenantId,
      stored.certificatePem,
      this.vault.seal(stored.privateKeyPem, tenantId),
      ca.certificate.notBefore,
      ca.certificate.notAfter,
      status,
    );
  }

  private async issuerFor(tenantId: string): Promise<{ caId: string; issuer: OperationalCertificateIssuer; chainPem: string }> {
    const row = await this.repository.currentTenantCa(tenantId);
    if (row === undefined) throw new Error(`tenant ${tenantId} has no current CA`);
    const cached = this.issuers.get(tenantId);
    if (cached?.caId === row.id) return cached;
    const certificate = new X509Certificate(row.certificatePem);
    const issuer = new OperationalCertificateIssuer(
      certificate.raw,
      this.vault.open(row.encryptedKey, tenantId),
      tenantId,
      this.tenantCaCrlUrl(tenantId, row.id),
    );
    const entry = { caId: row.id, issuer, chainPem: `${row.certificatePem.trim()}\n${this.platform.certificatePem.trim()}\n` };
    this.issuers.set(tenantId, entry);
    return entry;
  }

  async issueDeviceCertificate(
    tenantId: string,
    deviceId: string,
    publicKeySpki: Uint8Array,
    now: number,
  ): Promise<IssuedCertificate & { caId: string }> {
    const { caId, issuer, chainPem } = await this.issuerFor(tenantId);
    const notBefore = new Date(now - BACKDATE_MS);
    const notAfter = new Date(now + this.settings.deviceCertValidityHours * HOUR_MS);
    const { der, serial } = issuer.issueWithSerial({ deviceId, tenantId, subjectPublicKeySpki: publicKeySpki, notBefore, notAfter });
    return { caId, certificatePem: derToPem(der), chainPem, serial, notBefore, notAfter };
  }

  /** Each issuer's CRL as this replica last served it: the revoked set it lists and when it was made. */
  private readonly crls = new Map<string, { revokedDigest: string; pem: string; madeAt: number }>();

  /** The current tenant CA's CRL; TenantCaNotFoundError for an unknown tenant. */
  async crlPem(tenantId: string, now: number): Promise<string> {
    const row = await this.repository.currentTenantCa(tenantId);
    if (row === undefined) throw new TenantCaNotFoundError('no such tenant');
    return this.tenantCaCrl(row, now);
  }

  /** The CRL of one of the tenant's CAs (current, next or retired, until it expires); TenantCaNotFoundError if it has no such CA. */
  async caCrlPem(tenantId: string, caId: string, now: number): Promise<string> {
    const row = await this.repository.tenantCaById(tenantId, caId);
    if (row === undefined) throw new TenantCaNotFoundError('no such CA');
    return this.tenantCaCrl(row, now);
  }

  /**
   * The platform root's CRL. The root revokes nothing yet (a tenant CA is
   * retired, not revoked), but a relying party checking the whole chain
   * (`openssl verify -crl_check_all`) needs a current, signed answer for
   * every CA in it.
   */
  platformCrlPem(now: number): Promise<string> {
    return this.crl(
      this.platformCrlIssuer,
      () => Promise.resolve([]),
      now,
      () => Promise.resolve(this.platform),
    );
  }

  private tenantCaCrl(row: TenantCaRow, now: number): Promise<string> {
    return this.crl(
      row.id,
      async (db) => (await db.revokedCertificates(row.id)).map((r) => ({ serialHex: r.serial, revokedAt: new Date(r.revokedAt) })),
      now,
      () =>
        CertificateAuthority.load({ certificatePem: row.certificatePem, privateKeyPem: this.vault.open(row.encryptedKey, row.tenantId) }),
    );
  }

  /**
   * An issuer's CRL: made again whenever the revoked set changes and at
   * least every `CRL_REFRESH_MS`, well before its `nextUpdate`. The latest
   * one is kept in PostgreSQL and made under a lock, so every replica
   * serves the same list and its CRL Number only goes up (RFC 5280 §5.2.3).
   */
  private async crl(
    issuer: string,
    revokedIn: (db: AttestationRepository) => Promise<ReadonlyArray<{ serialHex: string; revokedAt: Date }>>,
    now: number,
    authority: () => Promise<CertificateAuthority>,
  ): Promise<string> {
    const digestOf = (entries: ReadonlyArray<{ serialHex: string }>) =>
      createHash('sha256')
        .update(entries.map((e) => e.serialHex).join(','))
        .digest('hex');
    const fresh = (crl: { revokedDigest: string; madeAt: number }, revokedDigest: string) =>
      crl.revokedDigest === revokedDigest && now - crl.madeAt < CRL_REFRESH_MS;
    const cached = this.crls.get(issuer);
    if (cached !== undefined && fresh(cached, digestOf(await revokedIn(this.repository)))) return cached.pem;
    const latest: StoredCrl = await this.repository.transaction(async (tx) => {
      await tx.lockCrl(issuer);
      // The revoked set is read under the lock: one read before it may be older than the stored CRL, and a CRL made
      // from it would carry a higher number but leave out a certificate revoked since.
      const entries = await revokedIn(tx);
      const revokedDigest = digestOf(entries);
      const stored = await tx.latestCrl(issuer);
      if (stored !== undefined && fresh({ revokedDigest: stored.revokedDigest, madeAt: stored.thisUpdate.getTime() }, revokedDigest)) {
        return stored;
      }
      const crlNumber = (stored?.crlNumber ?? 0) + 1;
      const pem = await (await authority()).issueCrl(entries, new Date(now), new Date(now + CRL_VALIDITY_MS), crlNumber);
      const made = { crlNumber, revokedDigest, pem, thisUpdate: new Date(now) };
      await tx.saveCrl(issuer, made);
      return made;
    });
    this.crls.set(issuer, { revokedDigest: latest.revokedDigest, pem: latest.pem, madeAt: latest.thisUpdate.getTime() });
    return latest.pem;
  }

  /** Current, next and recently retired tenant CAs plus the root, PEM; TenantCaNotFoundError for an unknown tenant. */
  async trustBundle(tenantId: string): Promise<string> {
    const rows = await this.repository.tenantCas(tenantId, this.overlapMs);
    if (rows.length === 0) throw new TenantCaNotFoundError('no such tenant');
    return [...rows.map((r) => r.certificatePem.trim()), this.platform.certificatePem.trim()].join('\n') + '\n';
  }

  async caCertificates(tenantId: string): Promise<Array<{ status: string; notAfter: string; certificatePem: string }>> {
    const rows = await this.repository.tenantCas(tenantId, this.overlapMs);
    return [
      ...rows.map((r) => ({ status: r.status, notAfter: new Date(r.notAfter).toISOString(), certificatePem: r.certificatePem })),
      { status: 'root', notAfter: this.platform.certificate.notAfter.toISOString(), certificatePem: this.platform.certificatePem },
    ];
  }
}
