import type { OperationalCertificateIssuer } from '@rampart/trust';
import type { NewTenantCa, TenantCaRow } from '../attestation/attestation.repository.js';
import type { SigningMeter } from './signing-meter.js';

/** One revoked certificate as a CRL lists it. */
export interface CrlEntry {
  readonly serialHex: string;
  readonly revokedAt: Date;
}

/** A CRL to sign: what it lists, its validity and its CRL Number (RFC 5280 §5.2.3, kept increasing by the caller). */
export interface CrlRequest {
  readonly entries: readonly CrlEntry[];
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly crlNumber: number;
}

/**
 * The platform's CA tiers above the tenants, wherever their keys are: the
 * CA that signs tenant CAs (the root in two tiers, the issuing CA in three),
 * the roots relying parties trust, and the tenant CAs' own signing.
 *
 * `two-tier` (development): a root whose key is a file signs tenant CAs,
 * whose keys are sealed in PostgreSQL. `three-tier`: the offline root signed
 * the issuing CA; the issuing key and every tenant CA key are in the key
 * provider (a token) and every signature is made there.
 */
export interface PlatformCa {
  readonly tiers: 'two-tier' | 'three-tier';
  /** The certificate that signs tenant CAs, PEM. */
  readonly certificatePem: string;
  /** Its SHA-256 fingerprint (hex): a tenant CA signed by another one is rotated promptly. */
  readonly fingerprint: string;
  /** The roots relying parties trust, PEM each: in two tiers the CA itself; in three, every configured offline root. */
  readonly rootPems: readonly string[];
  readonly meter: SigningMeter;

  /** A new tenant CA (pathLen 0, SKI/AKI, tenant URI SAN, CRL DP), its key made where this tier keeps keys. */
  createTenantCa(tenantId: string, validityDays: number, crlDistributionPoint: string): Promise<NewTenantCa>;
  /** A tenant CA `createTenantCa` made that was then not stored: its key, where it has one of its own, is destroyed. */
  discardTenantCa(ca: NewTenantCa): Promise<void>;
  /** This CA's own CRL (what relying parties check the tenant CAs against). */
  signCrl(request: CrlRequest): Promise<string>;
  /** The issuer of device certificates for a tenant CA row. */
  deviceIssuer(row: TenantCaRow, crlDistributionPoint: string): OperationalCertificateIssuer;
  /** A tenant CA's CRL, signed by that CA's key. */
  signTenantCaCrl(row: TenantCaRow, request: CrlRequest): Promise<string>;
  /** The offline root's CRL to publish (three tiers, when configured), read fresh; undefined when there is none. */
  rootCrlPem(): Promise<string | undefined>;
  /**
   * Resolves when every key this CA signs with can sign now; rejects with
   * the provider's named error (naming the key) or IssuingCaKeyError otherwise.
   */
  ready(): Promise<void>;
  /** Runs `listener` once, when this CA can next sign (at once if it can now): work deferred while its token was away. */
  onceSigning(listener: () => void): void;
  close(): Promise<void>;
}
