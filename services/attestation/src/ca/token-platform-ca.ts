import { X509Certificate, createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from '@rampart/service-kit';
import {
  ISSUING_CA_KEY_LABEL,
  OperationalCertificateIssuer,
  checkIssuingCaCertificate,
  checkRootCrl,
  errorForKey,
  keyLabel,
  signCaCrl,
  signTenantCa,
  type CheckedIssuingCaCertificate,
  type KeyHandle,
  type KeyProvider,
  type SigningCa,
  type TbsSigner,
} from '@rampart/trust';
import type { NewTenantCa, TenantCaRow } from '../attestation/attestation.repository.js';
import { IssuingKeyCheck } from './issuing-key-check.js';
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
 *
 * Every use of the token waits for the issuing key check (IssuingKeyCheck)
 * and reports the token's failures to it, so the service can start while
 * the token is away, not ready, and signs only once the token that answers
 * holds the certificate's key.
 */
export class TokenPlatformCa implements PlatformCa {
  readonly tiers = 'three-tier';
  readonly certificatePem: string;
  readonly fingerprint: string;
  readonly rootPems: readonly string[];
  private readonly certificate: Buffer;
  private readonly issuingKey: IssuingKeyCheck;
  /** The token's `sign`, after the issuing key check; its failures go to the check. */
  private readonly signer: TbsSigner = { sign: (key, data) => this.inToken(() => this.provider.sign(key, data)) };

  private constructor(
    checked: CheckedIssuingCaCertificate,
    private readonly provider: KeyProvider,
    readonly meter: SigningMeter,
    private readonly rootCrlFile: string | undefined,
    logger: Logger,
  ) {
    this.certificatePem = checked.certificate.toString();
    this.certificate = checked.certificate.raw;
    this.fingerprint = createHash('sha256').update(checked.certificate.raw).digest('hex');
    this.rootPems = checked.roots.map((root) => root.toString());
    this.issuingKey = new IssuingKeyCheck(checked.certificate, provider, ISSUING_CA_KEY_LABEL, logger);
  }

  /**
   * Reads the ceremony's files and checks what needs no token
   * (checkIssuingCaCertificate: the chain to a root, pathLen, keyCertSign,
   * validity; checkRootCrl): those are the operator's files, and a named
   * error stops start-up. The token is then asked once: when it is away, its
   * PIN refused or its key missing or not the certificate's, the service
   * starts not ready (`ready()` says which key and why) and signs once it is.
   */
  static async open(
    files: { issuingCertFile: string; rootCertFile: string; rootCrlFile?: string },
    provider: KeyProvider,
    meter: SigningMeter,
    logger: Logger,
  ): Promise<TokenPlatformCa> {
    const [issuingPem, rootsPem] = await Promise.all([readFile(files.issuingCertFile, 'utf8'), readFile(files.rootCertFile, 'utf8')]);
    const checked = checkIssuingCaCertificate({ issuingPem, rootsPem });
    if (files.rootCrlFile !== undefined) await checkRootCrl(await readFile(files.rootCrlFile, 'utf8'), checked.roots, files.rootCrlFile);
    const platform = new TokenPlatformCa(checked, provider, meter, files.rootCrlFile, logger);
    try {
      await platform.ready();
    } catch (error) {
      logger.warn({ err: error, key: ISSUING_CA_KEY_LABEL }, 'the issuing CA key cannot sign yet: starting not ready');
    }
    return platform;
  }

  async createTenantCa(tenantId: string, validityDays: number, crlDistributionPoint: string): Promise<NewTenantCa> {
    // Unique per CA: a tenant has several over time (rotation), each key kept while its certificates may live.
    const label = keyLabel({ tenant: tenantId }, `ca-${randomUUID()}`);
    const issuing = await this.issuing();
    const publicKey = await this.inToken(async () => {
      await this.provider.generate(label, 'ecdsa-p256');
      return this.provider.publicKey(label);
    });
    const certificatePem = await this.meter.track('issuing-ca', 'certificate', () =>
      signTenantCa(issuing, { tenantId, publicKey, validityDays, crlDistributionPoint }),
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
    return this.meter.track('issuing-ca', 'crl', async () => signCaCrl(await this.issuing(), crlOf(request)));
  }

  deviceIssuer(row: TenantCaRow, crlDistributionPoint: string): OperationalCertificateIssuer {
    return new OperationalCertificateIssuer(
      new X509Certificate(row.certificatePem).raw,
      { signer: this.signer, key: tenantKey(this.labelOf(row)) },
      row.tenantId,
      crlDistributionPoint,
    );
  }

  signTenantCaCrl(row: TenantCaRow, request: CrlRequest): Promise<string> {
    const tenantCa: SigningCa = {
      certificate: new X509Certificate(row.certificatePem).raw,
      signer: this.signer,
      key: tenantKey(this.labelOf(row)),
    };
    return this.meter.track('tenant-ca', 'crl', () => signCaCrl(tenantCa, crlOf(request)));
  }

  async rootCrlPem(): Promise<string | undefined> {
    // Read on each request: the next ceremony's CRL replaces the file (a mounted secret or config map) without a restart.
    return this.rootCrlFile === undefined ? undefined : await readFile(this.rootCrlFile, 'utf8');
  }

  /**
   * The token answers and holds the issuing key (the provider's probe,
   * asked each time: a pulled token fails here), and that key passed the
   * check. Otherwise the named error, naming the issuing key.
   */
  async ready(): Promise<void> {
    const readiness = await this.provider.ready([ISSUING_CA_KEY_LABEL]);
    if (!readiness.ready) {
      this.issuingKey.tokenFailed(readiness.error);
      throw errorForKey(readiness.error, ISSUING_CA_KEY_LABEL);
    }
    await this.issuingKey.key();
  }

  onceSigning(listener: () => void): void {
    this.issuingKey.oncePassed(listener);
  }

  close(): Promise<void> {
    return this.provider.close();
  }

  /** The issuing CA as signTenantCa and signCaCrl take it, once its key passed the check. */
  private async issuing(): Promise<SigningCa> {
    return { certificate: this.certificate, signer: this.signer, key: await this.issuingKey.key() };
  }

  /** A call to the token, made only after the issuing key check passed; a failure of the token is reported to the check. */
  private async inToken<T>(call: () => Promise<T>): Promise<T> {
    await this.issuingKey.key();
    try {
      return await call();
    } catch (error) {
      this.issuingKey.tokenFailed(error);
      throw error;
    }
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
