import { createHash, X509Certificate } from 'node:crypto';
import { ErrorCode } from '@rampart/contracts';
import { DomainError } from '@rampart/service-kit';
import { derToPem, type OperationalCertificateIssuer } from '@rampart/trust';
import type { AttestationRepository, StoredCrl, TenantCaRow } from '../attestation/attestation.repository.js';
import { signingOrUnavailable } from '@rampart/service-kit/signing';
import type { CrlEntry, PlatformCa } from './platform-ca.js';

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
 * One intermediate CA per tenant (`pathlen:0`) under the platform's CA (see
 * PlatformCa: the root in two tiers, the issuing CA in three, where every key
 * is in the token). Issues operational device certificates from the
 * tenant's current CA, serves the CRLs and trust bundles, and rotates tenant
 * CAs: on their schedule, and promptly when the platform's CA was replaced.
 */
export class TenantAuthorities {
  private readonly issuers = new Map<string, { caId: string; issuer: OperationalCertificateIssuer; chainPem: string }>();

  constructor(
    private readonly platform: PlatformCa,
    private readonly repository: AttestationRepository,
    private readonly settings: AuthoritySettings,
  ) {}

  /**
   * The platform CA's row in the `crls` table (tenant CAs are there by
   * their id): by its certificate, so a replaced CA never serves the CRL
   * its predecessor signed.
   */
  private get platformCrlIssuer(): string {
    return `platform:${this.platform.fingerprint}`;
  }

  /** Where the platform CA's CRL is published (the root's in two tiers, the issuing CA's in three): named in every tenant CA. */
  get platformCrlUrl(): string {
    return `${this.settings.publicBaseUrl}/v1/platform/crl`;
  }

  /** Whether this row was signed by another CA than the platform's current one (a ceremony replaced it since). */
  private signedByFormerCa(row: Pick<TenantCaRow, 'issuerCertificatePem'>): boolean {
    // Rows from before issuers were recorded were signed by the two-tier root, which is still current in two tiers.
    if (row.issuerCertificatePem === null) return this.platform.tiers === 'three-tier';
    return fingerprintOf(row.issuerCertificatePem) !== this.platform.fingerprint;
  }

  /** The certificate that signed this tenant CA: the one its row records, else (older rows) the platform CA. */
  private issuerPemOf(row: Pick<TenantCaRow, 'issuerCertificatePem'>): string {
    return (row.issuerCertificatePem ?? this.platform.certificatePem).trim();
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

  /** Runs `listener` once, when the platform's CA can next sign (at once if it can now). */
  onceSigning(listener: () => void): void {
    this.platform.onceSigning(listener);
  }

  /** The offline root's CRL (three tiers, when the ceremony's file is configured); undefined otherwise. */
  rootCrlPem(): Promise<string | undefined> {
    return this.platform.rootCrlPem();
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
    if (this.signedByFormerCa(current)) return this.rotateAfterCeremony(tenantId);
    const left = new Date(current.notAfter).getTime() - now;
    if (left < ACTIVATE_LEAD_DAYS * DAY_MS && (await this.repository.nextTenantCa(tenantId)) !== undefined) {
      await this.repository.activateNextTenantCa(tenantId);
      return 'activated';
    }
    if (left < SUCCESSOR_LEAD_DAYS * DAY_MS && (await this.prepareSuccessor(tenantId))) return 'prepared';
    return 'none';
  }

  /**
   * The platform's CA was replaced (a new ceremony: a new issuing CA, maybe
   * under a new root): the tenant's CA signed by the former one is replaced
   * now, not in `SUCCESSOR_LEAD_DAYS`, by a successor under the current CA,
   * activated at once. The former CA stays in the trust bundle with its
   * issuer for one device-certificate lifetime, so devices it certified keep
   * connecting until they re-attest.
   */
  private async rotateAfterCeremony(tenantId: string): Promise<'activated'> {
    const next = await this.repository.nextTenantCa(tenantId);
    if (next !== undefined && this.signedByFormerCa(next)) await this.repository.retireTenantCa(tenantId, next.id);
    await this.prepareSuccessor(tenantId);
    await this.repository.activateNextTenantCa(tenantId);
    return 'activated';
  }

  async createTenantCa(tenantId: string, repository = this.repository, status: 'current' | 'next' = 'current'): Promise<void> {
    // A tenant (or a successor) made while the token is away is refused as unavailable: its CA is never made in software.
    const ca = await signingOrUnavailable(() =>
      this.platform.createTenantCa(tenantId, this.settings.tenantCaValidityDays, this.platformCrlUrl),
    );
    await repository.insertTenantCa(tenantId, ca, status);
  }

  private async issuerFor(tenantId: string): Promise<{ caId: string; issuer: OperationalCertificateIssuer; chainPem: string }> {
    const row = await this.repository.currentTenantCa(tenantId);
    if (row === undefined) throw new Error(`tenant ${tenantId} has no current CA`);
    const cached = this.issuers.get(tenantId);
    if (cached?.caId === row.id) return cached;
    const issuer = this.platform.deviceIssuer(row, this.tenantCaCrlUrl(tenantId, row.id));
    // What a device presents above its own certificate: its tenant CA and that CA's issuer (the root, in two tiers;
    // the issuing CA in three, whose root the relying party holds).
    const entry = { caId: row.id, issuer, chainPem: `${row.certificatePem.trim()}\n${this.issuerPemOf(row)}\n` };
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
    // Through the tenant CA's key wherever it is; a provider that cannot sign refuses (SigningUnavailableError), never another key.
    const { der, serial } = await signingOrUnavailable(() =>
      this.platform.meter.track('tenant-ca', 'certificate', () =>
        issuer.issueWithSerialAsync({ deviceId, tenantId, subjectPublicKeySpki: publicKeySpki, notBefore, notAfter }),
      ),
    );
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
   * The platform CA's CRL: the root's in two tiers, the issuing CA's in
   * three (the root's own CRL is the ceremony's file, `rootCrlPem`). It
   * revokes nothing yet (a tenant CA is retired, not revoked), but a relying
   * party checking the whole chain (`openssl verify -crl_check_all`) needs a
   * current, signed answer for every CA in it.
   */
  platformCrlPem(now: number): Promise<string> {
    return this.crl(
      this.platformCrlIssuer,
      () => Promise.resolve([]),
      now,
      (request) => this.platform.signCrl(request),
    );
  }

  private tenantCaCrl(row: TenantCaRow, now: number): Promise<string> {
    return this.crl(
      row.id,
      async (db) => (await db.revokedCertificates(row.id)).map((r) => ({ serialHex: r.serial, revokedAt: new Date(r.revokedAt) })),
      now,
      (request) => this.platform.signTenantCaCrl(row, request),
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
    revokedIn: (db: AttestationRepository) => Promise<readonly CrlEntry[]>,
    now: number,
    sign: (request: { entries: readonly CrlEntry[]; thisUpdate: Date; nextUpdate: Date; crlNumber: number }) => Promise<string>,
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
      const pem = await signingOrUnavailable(() =>
        sign({ entries, thisUpdate: new Date(now), nextUpdate: new Date(now + CRL_VALIDITY_MS), crlNumber }),
      );
      const made = { crlNumber, revokedDigest, pem, thisUpdate: new Date(now) };
      await tx.saveCrl(issuer, made);
      return made;
    });
    this.crls.set(issuer, { revokedDigest: latest.revokedDigest, pem: latest.pem, madeAt: latest.thisUpdate.getTime() });
    return latest.pem;
  }

  /**
   * Current, next and recently retired tenant CAs, the issuing CA(s) that
   * signed them (three tiers: a former one stays while its tenant CAs do),
   * and every root, PEM; TenantCaNotFoundError for an unknown tenant.
   */
  async trustBundle(tenantId: string): Promise<string> {
    const rows = await this.repository.tenantCas(tenantId, this.overlapMs);
    if (rows.length === 0) throw new TenantCaNotFoundError('no such tenant');
    return (
      [...rows.map((r) => r.certificatePem.trim()), ...this.issuingPemsOf(rows), ...this.platform.rootPems.map((pem) => pem.trim())].join(
        '\n',
      ) + '\n'
    );
  }

  async caCertificates(tenantId: string): Promise<Array<{ status: string; notAfter: string; certificatePem: string }>> {
    const rows = await this.repository.tenantCas(tenantId, this.overlapMs);
    const entry = (status: string, pem: string) => ({
      status,
      notAfter: new X509Certificate(pem).validToDate.toISOString(),
      certificatePem: pem,
    });
    return [
      ...rows.map((r) => ({ status: r.status, notAfter: new Date(r.notAfter).toISOString(), certificatePem: r.certificatePem })),
      ...this.issuingPemsOf(rows).map((pem) => entry('issuing', `${pem}\n`)),
      ...this.platform.rootPems.map((pem) => entry('root', pem)),
    ];
  }

  /** The distinct issuing CAs above these tenant CAs (three tiers; in two tiers their issuer is a root, listed as such). */
  private issuingPemsOf(rows: ReadonlyArray<Pick<TenantCaRow, 'issuerCertificatePem'>>): string[] {
    const roots = new Set(this.platform.rootPems.map(fingerprintOf));
    const issuers = new Map(rows.map((r) => this.issuerPemOf(r)).map((pem) => [fingerprintOf(pem), pem] as const));
    return [...issuers].filter(([fingerprint]) => !roots.has(fingerprint)).map(([, pem]) => pem);
  }
}

/** SHA-256 over a certificate's DER, hex: how rows and the platform CA are compared (PEM text may differ in whitespace). */
function fingerprintOf(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}
