import { X509Certificate, createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CertificateAuthority, OperationalCertificateIssuer, type KeyVault } from '@rampart/trust';
import type { NewTenantCa, TenantCaRow } from '../attestation/attestation.repository.js';
import type { CrlRequest, PlatformCa } from './platform-ca.js';
import type { SigningMeter } from './signing-meter.js';

/**
 * Two tiers, for development: the platform root's key is read from a file
 * (a mounted secret) and signs tenant CAs, whose keys are sealed by the key
 * vault in their rows. Nothing here is in a token.
 */
export class FilePlatformCa implements PlatformCa {
  readonly tiers = 'two-tier';
  readonly fingerprint: string;

  private constructor(
    private readonly root: CertificateAuthority,
    private readonly vault: KeyVault,
    readonly meter: SigningMeter,
  ) {
    this.fingerprint = createHash('sha256').update(new Uint8Array(root.certificate.rawData)).digest('hex');
  }

  static async open(files: { rootCertFile: string; rootKeyFile: string }, vault: KeyVault, meter: SigningMeter): Promise<FilePlatformCa> {
    const [certificatePem, privateKeyPem] = await Promise.all([readFile(files.rootCertFile, 'utf8'), readFile(files.rootKeyFile, 'utf8')]);
    return new FilePlatformCa(await CertificateAuthority.load({ certificatePem, privateKeyPem }), vault, meter);
  }

  get certificatePem(): string {
    return this.root.certificatePem;
  }

  get rootPems(): readonly string[] {
    return [this.root.certificatePem];
  }

  async createTenantCa(tenantId: string, validityDays: number, crlDistributionPoint: string): Promise<NewTenantCa> {
    const ca = await this.meter.track('platform-root', 'certificate', () =>
      this.root.issueIntermediate(`Rampart tenant ${tenantId} CA`, validityDays, { tenantId, crlDistributionPoint }),
    );
    const stored = await ca.export();
    return {
      certificatePem: stored.certificatePem,
      key: { encryptedKey: this.vault.seal(stored.privateKeyPem, tenantId) },
      issuerCertificatePem: this.root.certificatePem,
      notBefore: ca.certificate.notBefore,
      notAfter: ca.certificate.notAfter,
    };
  }

  discardTenantCa(_ca: NewTenantCa): Promise<void> {
    return Promise.resolve(); // its key is sealed in the row that was not stored: nothing is left anywhere
  }

  signCrl(request: CrlRequest): Promise<string> {
    return this.meter.track('platform-root', 'crl', () =>
      this.root.issueCrl(request.entries, request.thisUpdate, request.nextUpdate, request.crlNumber),
    );
  }

  deviceIssuer(row: TenantCaRow, crlDistributionPoint: string): OperationalCertificateIssuer {
    return new OperationalCertificateIssuer(
      new X509Certificate(row.certificatePem).raw,
      this.sealedKeyOf(row),
      row.tenantId,
      crlDistributionPoint,
    );
  }

  async signTenantCaCrl(row: TenantCaRow, request: CrlRequest): Promise<string> {
    const ca = await CertificateAuthority.load({ certificatePem: row.certificatePem, privateKeyPem: this.sealedKeyOf(row) });
    return this.meter.track('tenant-ca', 'crl', () =>
      ca.issueCrl(request.entries, request.thisUpdate, request.nextUpdate, request.crlNumber),
    );
  }

  rootCrlPem(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  onceSigning(listener: () => void): void {
    listener(); // its keys are files: it can always sign
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private sealedKeyOf(row: TenantCaRow): string {
    if (row.encryptedKey === null) {
      throw new Error(
        `tenant CA ${row.id} keeps its key in a key provider (${row.keyLabel ?? '?'}), which this two-tier install does not use`,
      );
    }
    return this.vault.open(row.encryptedKey, row.tenantId);
  }
}
