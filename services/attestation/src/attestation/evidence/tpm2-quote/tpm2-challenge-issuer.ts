import { AttestationReason, type Tpm2AttestRequest, type Tpm2CredentialChallenge } from '@rampart/contracts';
import { makeCredential } from '@rampart/trust';
import type { NonceStore } from '../../nonce-store.js';
import type { TpmVendorEndorsement } from '../tpm-vendor-endorsement.js';
import type { ChallengeSeal } from './challenge-seal.js';
import { challengeBinding, checkTpm, fromBase64url, type TpmRefusal } from './tpm-check.js';

/**
 * A TPM device's first message answered: its EK endorsed by a trusted vendor and fit for a credential, its AK an
 * attestation key; then a nonce, delivered only inside MakeCredential(EK, Name(AK)) and sealed for the platform.
 * Never throws on device input: whatever is wrong with it is a refusal with its reason.
 */
export class Tpm2ChallengeIssuer {
  constructor(
    private readonly vendors: TpmVendorEndorsement,
    private readonly seal: ChallengeSeal,
    private readonly nonces: NonceStore,
  ) {}

  async issue(deviceId: string, request: Tpm2AttestRequest, now: number): Promise<Tpm2CredentialChallenge | TpmRefusal> {
    const tpm = checkTpm(this.vendors, request, now);
    if ('reason' in tpm) return tpm;
    const { nonce, expiresAt } = await this.nonces.issue(deviceId, now);
    const nonceBytes = fromBase64url(nonce);
    let made;
    try {
      made = makeCredential(tpm.ek, tpm.akName, nonceBytes);
    } catch (error) {
      // The EK's template was checked (endorsementKeyFaults); this is the last guard, not a path a device should reach.
      return { reason: AttestationReason.ekUntrusted, detail: `no credential for this EK: ${String(error)}` };
    }
    return {
      idObject: made.idObject.toString('base64url'),
      encryptedSecret: made.encryptedSecret.toString('base64url'),
      challenge: this.seal.seal(nonceBytes, challengeBinding(deviceId, tpm)).toString('base64url'),
      expiresAt,
    };
  }
}
