import type { Counter, Meter } from '@opentelemetry/api';

/** Whose key signed: the CA that signs tenant CAs (the two-tier root or the issuing CA), or a tenant CA. */
export type SigningKeyPurpose = 'platform-root' | 'issuing-ca' | 'tenant-ca';
/** Whose CRL: the offline root's (a file from the ceremony), the platform CA's, or a tenant CA's. */
export type CrlKind = 'root' | 'platform' | 'tenant-ca';
/** What was signed. */
export type SignedObject = 'certificate' | 'crl';

/**
 * Counts every CA signature by the key's purpose, what it signed and the
 * provider that made it, and every failure by the error's name (a token gone,
 * a PIN refused, a key missing): the figures an HSM outage or its cost shows in.
 */
export class SigningMeter {
  private readonly signatures: Counter;
  private readonly failures: Counter;
  private readonly crlFailures: Counter;

  constructor(
    meter: Meter,
    private readonly provider: 'software' | 'pkcs11',
  ) {
    this.signatures = meter.createCounter('rampart_ca_signatures_total', {
      description: 'CA signatures made, by key purpose, object signed and key provider',
    });
    this.failures = meter.createCounter('rampart_ca_signing_failures_total', {
      description: 'CA signatures that failed, by key purpose, key provider and error name',
    });
    this.crlFailures = meter.createCounter('rampart_ca_crl_refresh_failures_total', {
      description: 'CRLs that could not be made or read again, by CRL and error name, while the last good one was served',
    });
  }

  /** A CRL could not be refreshed (a token away, a root CRL file missing or refused): the last good one is served meanwhile. */
  crlRefreshFailed(crl: CrlKind, error: unknown): void {
    this.crlFailures.add(1, { crl, provider: this.provider, error: error instanceof Error ? error.name : 'unknown' });
  }

  /** Runs one signing step and counts its outcome; the error goes on to the caller unchanged. */
  async track<T>(purpose: SigningKeyPurpose, object: SignedObject, sign: () => Promise<T>): Promise<T> {
    try {
      const signed = await sign();
      this.signatures.add(1, { purpose, object, provider: this.provider });
      return signed;
    } catch (error) {
      this.failures.add(1, { purpose, object, provider: this.provider, error: error instanceof Error ? error.name : 'unknown' });
      throw error;
    }
  }
}
