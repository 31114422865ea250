import { X509Certificate } from 'node:crypto';
import { TPM2_QUOTE_KIND, type Tpm2AttestRequest, type Tpm2CredentialChallenge, type Tpm2QuoteEvidence } from '@rampart/contracts';
import { QUOTED_PCRS, measureBoot, type MeasuredStage } from './measured-boot.js';
import { Swtpm } from './swtpm.js';
import { TpmClient } from './tpm-client.js';
import type { TpmDeviceIdentity } from './tpm-factory.js';

/**
 * One power-on of a device's TPM 2.0 (its own swtpm): each boot stage measured into the TPM and the event log kept,
 * an attestation key made under the EK. It makes the messages of a `tpm2-quote` attestation (request with EK and AK
 * → ActivateCredential on the challenge → quote); the `TpmAttestor` drives one per boot, and has no connection of its own.
 */
export class TpmDevice {
  private constructor(
    readonly identity: Pick<TpmDeviceIdentity, 'dir' | 'deviceId' | 'idevidPem'>,
    private readonly swtpm: Swtpm,
    readonly tpm: TpmClient,
    private readonly eventLog: Buffer,
    private readonly akPublic: Buffer,
  ) {}

  get deviceId(): string {
    return this.identity.deviceId;
  }

  /** Power-on: the TPM starts (PCRs reset), each stage is measured before it runs, the AK is made. */
  static async boot(
    identity: Pick<TpmDeviceIdentity, 'dir' | 'deviceId' | 'idevidPem'>,
    stages: readonly MeasuredStage[],
  ): Promise<TpmDevice> {
    const swtpm = await Swtpm.start(identity.dir);
    let tpm: TpmClient | undefined;
    try {
      tpm = await TpmClient.open(swtpm, identity.dir);
      const eventLog = await measureBoot(tpm, stages);
      const akPublic = await tpm.createAttestationKey();
      return new TpmDevice(identity, swtpm, tpm, eventLog, akPublic);
    } catch (error) {
      // Power-off as on any other path: orderly (no dictionary-attack count), its scratch folder removed.
      // The swtpm is stopped even when closing the client throws: a failed power-on leaves no process behind.
      try {
        await tpm?.orderlyShutdown().catch(() => undefined);
        await tpm?.close();
      } finally {
        await swtpm.stop();
      }
      throw error;
    }
  }

  /** The first message: the EK certificate from NV, the EK and AK publics. */
  async attestationRequest(): Promise<Tpm2AttestRequest> {
    return {
      kind: TPM2_QUOTE_KIND,
      ekCertificate: (await this.tpm.ekCertificate()).toString('base64url'),
      ekPublic: (await this.tpm.ekPublic()).toString('base64url'),
      akPublic: this.akPublic.toString('base64url'),
    };
  }

  /** The evidence for a challenge: activate the credential (only this TPM can), quote the boot PCRs with its nonce. */
  async evidenceFor(
    request: Tpm2AttestRequest,
    challenge: Tpm2CredentialChallenge,
    /** Instead of this TPM's ActivateCredential (a test's device that cannot activate answers with what it has). */
    activate?: (challenge: Tpm2CredentialChallenge) => Promise<Buffer>,
  ): Promise<Tpm2QuoteEvidence> {
    const nonce = activate
      ? await activate(challenge)
      : await this.tpm.activateCredential(
          Buffer.from(challenge.idObject, 'base64url'),
          Buffer.from(challenge.encryptedSecret, 'base64url'),
        );
    const { quote, signature } = await this.tpm.quote(QUOTED_PCRS, nonce);
    return {
      kind: TPM2_QUOTE_KIND,
      challenge: challenge.challenge,
      idevid: new X509Certificate(this.identity.idevidPem).raw.toString('base64url'),
      ekCertificate: request.ekCertificate,
      ekPublic: request.ekPublic,
      akPublic: request.akPublic,
      quote: quote.toString('base64url'),
      signature: signature.toString('base64url'),
      eventLog: this.eventLog.toString('base64url'),
    };
  }

  /** Power-off, orderly (see `TpmClient.orderlyShutdown`). */
  async shutdown(): Promise<void> {
    try {
      await this.tpm.orderlyShutdown().catch(() => undefined);
      await this.tpm.close();
    } finally {
      await this.swtpm.stop();
    }
  }
}
