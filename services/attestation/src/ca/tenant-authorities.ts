import { X509Certificate } from 'node:crypto';
import { CertificateAuthority, OperationalCertificateIssuer, derToPem } from '@rampart/trust';
import type { AttestationRepository } from '../attestation/attestation.repository.js';
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

export interface IssuedCertificate {
  readonly certificatePem: string;
  readonly chainPem: string;
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
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
    private readonly settings: { readonly deviceCertValidityHours: number; readonly tenantCaValidityDays: number },
  ) {}

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
    const ca = await this.platform.issueIntermediate(`Rampart tenant ${tenantId} CA`, this.settings.tenantCaValidityDays, { tenantId });
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
    const issuer = new OperationalCertificateIssuer(certificate.raw, this.vault.open(row.encryptedKey, tenantId), tenantId);
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

  private readonly crls = new Map<string, { key: string; pem: string; madeAt: number }>();

  /**
   * The current tenant CA's CRL: made again whenever the revoked set changes
   * and at least every `CRL_REFRESH_MS`, well before its `nextUpdate`.
   */
  async crlPem(tenantId: string, now: number): Promise<string | undefined> {
    const row = await this.repository.currentTenantCa(tenantId);
    if (row === undefined) return undefined;
    const revoked = await this.repository.revokedCertificates(row.id);
    const key = `${row.id}|${revoked.map((r) => r.serial).join(',')}`;
    const cached = this.crls.get(tenantId);
    if (cached?.key === key && now - cached.madeAt < CRL_REFRESH_MS) return cached.pem;
    const ca = await CertificateAuthority.load({
      certificatePem: row.certificatePem,
      privateKeyPem: this.vault.open(row.encryptedKey, tenantId),
    });
    const pem = await ca.issueCrl(
      revoked.map((r) => ({ serialHex: r.serial, revokedAt: new Date(r.revokedAt) })),
      new Date(now),
      new Date(now + CRL_VALIDITY_MS),
    );
    this.crls.set(tenantId, { key, pem, madeAt: now });
    return pem;
  }

  /** Current, next and recently retired tenant CAs plus the root, PEM; undefined for an unknown tenant. */
  async trustBundle(tenantId: string): Promise<string | undefined> {
    const rows = await this.repository.tenantCas(tenantId, this.overlapMs);
    if (rows.length === 0) return undefined;
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
