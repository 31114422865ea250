import { X509Certificate, createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  ISSUING_CA_KEY_LABEL,
  OperationalCertificateIssuer,
  checkRootCrl,
  importIssuingCa,
  keyLabel,
  signCaCrl,
  signTenantCa,
  type ImportedIssuingCa,
  type KeyHandle,
  type KeyProvider,
  type SigningCa,
} from '@rampart/trust';
import type { NewTenantCa, TenantCaRow } from '../attestation/attestation.repository.js';
import type { CrlRequest, PlatformCa } from './platform-ca.js';
import type { SigningMeter } from './signing-meter.js';

const DAY_MS = 86_400_000;

/** A tenant CA key's handle: every one this service makes is P-256 (`createTenantCa`). */
const tenantKey = (label: string): KeyHandle => ({ label, algorithm: 'ecdsa-p256' });

/**
 * Three tiers: the offline root(s) signed the platform issuing CA, whose key
 * (ISSUING_CA_KEY_LABEL) is in the key provider; tenant CA keys are made in
 * the same provider, labelled `rampart/<tenant>/ca-<uuid>`, and every
 * certificate and CRL is signed there. No CA key is ever in this process:
 * when the provider cannot sign, nothing is signed.
 */
export class TokenPlatformCa implements PlatformCa {
  readonly tiers = 'three-tier';
  readonly certificatePem: string;
  readonly fingerprint: string;
  readonly rootPems: readonly string[];
  private readonly issuing: SigningCa;

  private constructor(
    imported: ImportedIssuingCa,
    private readonly provider: KeyProvider,
    readonly meter: SigningMeter,
    private readonly rootCrlFile: string | undefined,
  ) {
    this.certificatePem = imported.certificate.toString();
    this.fingerprint = createHash('sha256').update(imported.certificate.raw).digest('hex');
    this.rootPems = imported.roots.map((root) => root.toString());
    this.issuing = { certificate: imported.certificate.raw, signer: provider, key: imported.key };
  }

  /**
   * Reads the ceremony's files and checks them (importIssuingCa: the chain to
   * a root, pathLen, the provider's key; checkRootCrl), with named errors: the
   * service does not start on an issuing CA it could not use.
   */
  static async open(
    files: { issuingCertFile: string; rootCertFile: string; rootCrlFile?: string },
    provider: KeyProvider,
    meter: SigningMeter,
  ): Promise<TokenPlatformCa> {
    const [issuingPem, rootsPem] = await Promise.all([readFile(files.issuingCertFile, 'utf8'), readFile(files.rootCertFile, 'utf8')]);
    const imported = await importIssuingCa({ issuingPem, rootsPem, provider, label: ISSUING_CA_KEY_LABEL });
    if (files.rootCrlFile !== undefined) await checkRootCrl(await readFile(files.rootCrlFile, 'utf8'), imported.roots, files.rootCrlFile);
    return new TokenPlatformCa(imported, provider, meter, files.rootCrlFile);
  }

  async createTenantCa(tenantId: string, validityDays: number, crlDistributionPoint: string): Promise<NewTenantCa> {
    // Unique per CA: a tenant has several over time (rotation), each key kept while its certificates may live.
    const label = keyLabel({ tenant: tenantId }, `ca-${randomUUID()}`);
    await this.provider.generate(label, 'ecdsa-p256');
    const publicKey = await this.provider.publicKey(label);
    const certificatePem = await this.meter.track('issuing-ca', 'certificate', () =>
      signTenantCa(this.issuing, { tenantId, publicKey, validityDays, crlDistributionPoint }),
    );
    const certificate = new X509Certificate(certificatePem);
    return {
      certificatePem,
      key: { keyLabel: label },
      issuerCertificatePem: this.certificatePem,
      notBefore: certificate.validFromDate,
      notAfter: certificate.validToDate,
    };
  }

  signCrl(request: CrlRequest): Promise<string> {
    return this.meter.track('issuing-ca', 'crl', () => signCaCrl(this.issuing, crlOf(request)));
  }

  deviceIssuer(row: TenantCaRow, crlDistributionPoint: string): OperationalCertificateIssuer {
    return new OperationalCertificateIssuer(
      new X509Certificate(row.certificatePem).raw,
      { signer: this.provider, key: tenantKey(this.labelOf(row)) },
      row.tenantId,
      crlDistributionPoint,
    );
  }

  signTenantCaCrl(row: TenantCaRow, request: CrlRequest): Promise<string> {
    const tenantCa: SigningCa = {
      certificate: new X509Certificate(row.certificatePem).raw,
      signer: this.provider,
      key: tenantKey(this.labelOf(row)),
    };
    return this.meter.track('tenant-ca', 'crl', () => signCaCrl(tenantCa, crlOf(request)));
  }

  async rootCrlPem(): Promise<string | undefined> {
    // Read on each request: the next ceremony's CRL replaces the file (a mounted secret or config map) without a restart.
    return this.rootCrlFile === undefined ? undefined : await readFile(this.rootCrlFile, 'utf8');
  }

  async ready(): Promise<void> {
    const readiness = await this.provider.ready([ISSUING_CA_KEY_LABEL]);
    if (!readiness.ready) throw readiness.error;
  }

  close(): Promise<void> {
    return this.provider.close();
  }

  private labelOf(row: TenantCaRow): string {
    if (row.keyLabel === null) {
      throw new Error(`tenant CA ${row.id} has its key sealed in the database, which a three-tier install does not use; it is rotated`);
    }
    return row.keyLabel;
  }
}

function crlOf(request: CrlRequest) {
  return {
    revoked: request.entries.map((e) => ({ serial: e.serialHex, revokedAt: e.revokedAt })),
    nextUpdateDays: (request.nextUpdate.getTime() - request.thisUpdate.getTime()) / DAY_MS,
    crlNumber: request.crlNumber,
    now: request.thisUpdate,
  };
}
