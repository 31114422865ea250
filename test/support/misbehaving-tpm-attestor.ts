import type { Tpm2AttestRequest, Tpm2CredentialChallenge, Tpm2QuoteEvidence } from '@rampart/contracts';
import { TPM2_QUOTE_KIND } from '@rampart/contracts';
import type { AttestChallenge, Attestor, BootResult, TpmAttestor, TpmClient } from '@rampart/emulator';

/** Ways a test makes a TPM device misbehave, each at one step of the protocol. */
export interface AttestHooks {
  /** Changes the first message (another TPM's AK, another EK certificate). */
  readonly request?: (request: Tpm2AttestRequest) => Tpm2AttestRequest;
  /** Replaces the credential activation (a device that cannot activate answers with what it has). */
  readonly activate?: (challenge: Tpm2CredentialChallenge) => Promise<Buffer>;
  /** Changes the evidence before it is sent (a replayed quote, a doctored event log). */
  readonly evidence?: (evidence: Tpm2QuoteEvidence) => Tpm2QuoteEvidence;
}

/**
 * A TPM device's attestor as a test drives it: the real `TpmAttestor` (its TPM, its boots), with misbehaviour set by
 * `hooks` at each step and the evidence it sent kept, so that the production attestor carries no test seams.
 */
export class MisbehavingTpmAttestor implements Attestor {
  readonly kind = TPM2_QUOTE_KIND;
  hooks: AttestHooks = {};
  /** The evidence sent last (a test replays it). */
  lastEvidence: Tpm2QuoteEvidence | undefined;
  /** The request this boot sent, as changed: the evidence repeats its EK and AK. */
  private sent: Tpm2AttestRequest | undefined;

  constructor(private readonly inner: TpmAttestor) {}

  booted(boot: BootResult): void {
    this.sent = undefined;
    this.inner.booted(boot);
  }

  /** The TPM of this boot (for a test that has it quote something else). */
  async tpm(): Promise<TpmClient> {
    return (await this.inner.current()).tpm;
  }

  async request(): Promise<string> {
    const made = JSON.parse(await this.inner.request()) as Tpm2AttestRequest;
    this.sent = this.hooks.request ? this.hooks.request(made) : made;
    return JSON.stringify(this.sent);
  }

  async evidence(challenge: AttestChallenge): Promise<Tpm2QuoteEvidence> {
    if (challenge.type !== 'tpm2-credential') throw new Error(`a TPM device cannot answer a ${challenge.type} challenge`);
    if (this.sent === undefined) throw new Error('a credential challenge before any request on this boot');
    const made = await (await this.inner.current()).evidenceFor(this.sent, challenge, this.hooks.activate);
    this.lastEvidence = this.hooks.evidence ? this.hooks.evidence(made) : made;
    return this.lastEvidence;
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}
