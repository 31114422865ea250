import type { Tpm2AttestRequest, Tpm2CredentialChallenge, Tpm2QuoteEvidence } from '@rampart/contracts';

/** Ways a test makes a TPM device misbehave, each at one step of the protocol. */
export interface AttestHooks {
  /** Changes the first message (another TPM's AK, another EK certificate). */
  readonly request?: (request: Tpm2AttestRequest) => Tpm2AttestRequest;
  /** Replaces the credential activation (a device that cannot activate answers with what it has). */
  readonly activate?: (challenge: Tpm2CredentialChallenge) => Promise<Buffer>;
  /** Changes the evidence before it is sent (a replayed quote, a doctored event log). */
  readonly evidence?: (evidence: Tpm2QuoteEvidence) => Tpm2QuoteEvidence;
}
