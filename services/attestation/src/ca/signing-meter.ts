import type { Counter, Meter } from '@opentelemetry/api';

/** Whose key signed: the CA that signs tenant CAs (the two-tier root or the issuing CA), or a tenant CA. */
export type SigningKeyPurpose = 'platform-root' | 'issuing-ca' | 'tenant-ca';
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
