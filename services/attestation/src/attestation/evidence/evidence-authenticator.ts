import type { AttestationReasonCode, BootMeasurement, EvidenceEnvelope, EvidenceKind } from '@rampart/contracts';

/** What every kind of evidence yields once it is authentic: the input of the shared policy (see EvidenceVerifier). */
export interface AuthenticatedEvidence {
  readonly kind: EvidenceKind;
  /** Derived from the endorsed key (never from a claim the device makes about itself). */
  readonly deviceId: string;
  /** The platform's nonce the evidence answers, base64url. */
  readonly nonce: string;
  /** Measured boot in order: rom, bootloader, security-monitor, os, then apps. */
  readonly bootLog: readonly BootMeasurement[];
  /** Anti-rollback counter by component. */
  readonly securityVersions: Readonly<Record<string, number>>;
  readonly versions: { readonly os: string; readonly apps: Readonly<Record<string, string>> };
  /** The endorsed device key, DER SubjectPublicKeyInfo: the LDevID is issued for it. */
  readonly devicePublicKeySpki: Buffer;
}

/** A refusal before policy: `deviceId` once the endorsement has named the device. */
export interface AuthenticationRefusal {
  readonly reason: AttestationReasonCode;
  readonly deviceId?: string;
  /** For the log: what exactly was wrong (never sent to the device). */
  readonly detail?: string;
  /**
   * The nonce the evidence did answer, base64url, when it is not the one it was given (a TPM quote's extraData):
   * the verifier tells a replay (a nonce of ours, spent or expired) from a TPM that could not learn the nonce.
   */
  readonly answeredNonce?: string;
}

/** One kind of evidence: checks its form, its endorsement and its signature, and reads it into `AuthenticatedEvidence`. */
export interface EvidenceAuthenticator<K extends EvidenceKind = EvidenceKind> {
  readonly kind: K;
  authenticate(envelope: Extract<EvidenceEnvelope, { kind: K }>, now: number): AuthenticatedEvidence | AuthenticationRefusal;
}
