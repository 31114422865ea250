import { X509Certificate, createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ErrorCode } from '@rampart/contracts';
import { DomainError, type Logger } from '@rampart/service-kit';
import {
  CertificateAuthority,
  ISSUING_CA_KEY_LABEL,
  OperationalCertificateIssuer,
  RootCrlError,
  checkIssuingCaCertificate,
  checkRootCrl,
  refuseRevokedIssuingCa,
  errorForKey,
  keyLabel,
  signCaCrl,
  signTenantCa,
  type CheckedIssuingCaCertificate,
  type CheckedRootCrl,
  type KeyHandle,
  type KeyProvider,
  type KeyVault,
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
 * A tenant CA row from before the move to three tiers keeps its key sealed
 * in the database, and no key vault is configured (CA_KEY_ENCRYPTION_KEY) to
 * open it: its CRL cannot be signed until it expires (a documented
 * limitation, packages/trust/src/ceremony/README.md), and it never issues.
 */
export class SealedTenantCaKeyError extends DomainError {
  override readonly name = 'SealedTenantCaKeyError';
  readonly code = ErrorCode.unavailable;
  constructor(
    readonly caId: string,
    why: string,
  ) {
    super(`tenant CA ${caId} has its key sealed in the database (from before three tiers): ${why}`);
  }
}

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
  private readonly roots: readonly X509Certificate[];

  private constructor(
    checked: CheckedIssuingCaCertificate,
    private readonly provider: KeyProvider,
    readonly meter: SigningMeter,
    private readonly rootCrlFile: string | undefined,
    /** The root CRL last read and checked: served while a newer file is missing or refused. */
    private lastRootCrl: CheckedRootCrl | undefined,
    private readonly logger: Logger,
    /** Opens the sealed keys of tenant CAs made before three tiers, to sign their CRLs until they expire; none: refused by name. */
    private readonly formerVault: KeyVault | undefined,
  ) {
    this.roots = checked.roots;
    this.certificatePem = checked.certificate.toString();
    this.certificate = checked.certificate.raw;
    this.fingerprint = createHash('sha256').update(checked.certificate.raw).digest('hex');
    this.rootPems = checked.roots.map((root) => root.toString());
    this.issuingKey = new IssuingKeyCheck(checked.certificate, provider, ISSUING_CA_KEY_LABEL, logger);
  }

  /**
   * Reads the ceremony's files and checks what needs no token
   * (checkIssuingCaCertificate: the chain to a root, pathLen, keyCertSign,
   * validity; checkRootCrl, and that CRL does not revoke the issuing CA):
   * those are the operator's files, and a named
   * error stops start-up. The token is then asked once: when it is away, its
   * PIN refused or its key missing or not the certificate's, the service
   * starts not ready (`ready()` says which key and why) and signs once it is.
   */
  static async open(
    files: { issuingCertFile: string; rootCertFile: string; rootCrlFile?: string },
    provider: KeyProvider,
    meter: SigningMeter,
    logger: Logger,
    formerVault?: KeyVault,
  ): Promise<TokenPlatformCa> {
    const [issuingPem, rootsPem] = await Promise.all([readFile(files.issuingCertFile, 'utf8'), readFile(files.rootCertFile, 'utf8')]);
    const checked = checkIssuingCaCertificate({ issuingPem, rootsPem });
    let rootCrl: CheckedRootCrl | undefined;
    if (files.rootCrlFile !== undefined) {
      rootCrl = await checkRootCrl(await readFile(files.rootCrlFile, 'utf8'), checked.roots, files.rootCrlFile);
      // A revoked issuing CA would sign tenant CAs no relying party accepts: refused by name, the service does not start.
      refuseRevokedIssuingCa(checked, rootCrl, files.rootCrlFile);
    }
    const platform = new TokenPlatformCa(checked, provider, meter, files.rootCrlFile, rootCrl, logger, formerVault);
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
    await this.inToken(() => this.provider.generate(label, 'ecdsa-p256'));
    let certificatePem: string;
    try {
      const publicKey = await this.inToken(() => this.provider.publicKey(label));
      certificatePem = await this.meter.track('issuing-ca', 'certificate', () =>
        signTenantCa(issuing, { tenantId, publicKey, validityDays, crlDistributionPoint }),
      );
    } catch (error) {
      // The key exists and no certificate names it: destroyed, not left in the token.
      await this.destroyKey(label, error);
      throw error;
    }
    const certificate = new X509Certificate(certificatePem);
    return {
      certificatePem,
      key: { keyLabel: label },
      issuerCertificatePem: this.certificatePem,
      notBefore: certificate.validFromDate,
      notAfter: certificate.validToDate,
    };
  }

  /** A tenant CA that was made but not stored: its key in the token is destroyed, so keys of CAs that never were do not pile up. */
  async discardTenantCa(ca: NewTenantCa): Promise<void> {
    if ('keyLabel' in ca.key) await this.destroyKey(ca.key.keyLabel, undefined);
  }

  /** Destroys a key no stored certificate names; a failure to is logged (the key is orphaned, not used), never hides `why`. */
  private async destroyKey(label: string, why: unknown): Promise<void> {
    try {
      await this.inToken(() => this.provider.destroy(label));
      this.logger.info({ key: label, err: why }, 'destroyed the key of a tenant CA that was not made');
    } catch (error) {
      this.logger.error(
        { key: label, err: error, why },
        'could not destroy the key of a tenant CA that was not made: it stays in the token unused',
      );
    }
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

  async signTenantCaCrl(row: TenantCaRow, request: CrlRequest): Promise<string> {
    if (row.keyLabel === null) return this.signFormerTenantCaCrl(row, request);
    const tenantCa: SigningCa = {
      certificate: new X509Certificate(row.certificatePem).raw,
      signer: this.signer,
      key: tenantKey(this.labelOf(row)),
    };
    return this.meter.track('tenant-ca', 'crl', () => signCaCrl(tenantCa, crlOf(request)));
  }

  /**
   * The root's CRL, read again on each request: the next ceremony's CRL
   * replaces the file (a mounted secret or config map) without a restart.
   * What is read is checked as at start-up (one CRL, signed by a configured
   * root) and must not go back: a lower CRL Number than the last one of the
   * same root is an old CRL put back. A file missing or refused is logged
   * and counted, and the last good CRL served meanwhile.
   */
  /**
   * A tenant CA from before three tiers (its key sealed in its row): it was
   * rotated at start-up and issues nothing, but relying parties still fetch
   * its CRL until it expires, so the key vault signs that CRL, in this
   * process as it did before. Without the vault: SealedTenantCaKeyError.
   */
  private async signFormerTenantCaCrl(row: TenantCaRow, request: CrlRequest): Promise<string> {
    const vault = this.formerVault;
    if (row.encryptedKey === null || vault === undefined) {
      throw new SealedTenantCaKeyError(
        row.id,
        'no key vault (CA_KEY_ENCRYPTION_KEY) is configured to open it, so its CRL cannot be signed',
      );
    }
    const ca = await CertificateAuthority.load({
      certificatePem: row.certificatePem,
      privateKeyPem: vault.open(row.encryptedKey, row.tenantId),
    });
    return this.meter.track('tenant-ca', 'crl', () =>
      ca.issueCrl(request.entries, request.thisUpdate, request.nextUpdate, request.crlNumber),
    );
  }

  async rootCrlPem(): Promise<string | undefined> {
    const path = this.rootCrlFile;
    if (path === undefined) return undefined;
    try {
      const read = await checkRootCrl(await readFile(path, 'utf8'), this.roots, path);
      const last = this.lastRootCrl;
      if (last !== undefined && read.signedBy.fingerprint256 === last.signedBy.fingerprint256 && read.crlNumber < last.crlNumber) {
        throw new RootCrlError(path, `its CRL Number ${read.crlNumber} is below the ${last.crlNumber} already published`);
      }
      this.lastRootCrl = read;
    } catch (error) {
      this.meter.crlRefreshFailed('root', error);
      this.logger.error({ err: error, path }, 'the root CRL file cannot be published: serving the last good one');
    }
    return this.lastRootCrl?.pem;
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
      throw new SealedTenantCaKeyError(row.id, 'a three-tier install never issues from a software key; it is rotated when the CA can sign');
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
