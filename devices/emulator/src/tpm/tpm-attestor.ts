import type { Tpm2AttestRequest, Tpm2QuoteEvidence } from '@rampart/contracts';
import { TPM2_QUOTE_KIND } from '@rampart/contracts';
import type { Attestor } from '../device/attestor.js';
import type { DeviceIdentity } from '../device/emulated-device.js';
import type { AttestChallenge } from '../device/device-messages.js';
import type { BootResult } from '../mcu/secure-boot.js';
import { bootStages } from './boot-stages.js';
import type { MeasuredStage } from './measured-boot.js';
import { TpmDevice } from './tpm-device.js';
import type { TpmDeviceIdentity } from './tpm-factory.js';

/**
 * The attestor of a device with a TPM 2.0 (`tpm2-quote`). Every boot is a power cycle of its TPM — swtpm restarts,
 * TPM2_Startup(CLEAR) resets the PCRs — then each stage secure boot measured is extended into its PCR and logged,
 * and a new attestation key is made under the EK. An update changes the OS measurement, so the boot after it
 * extends the new one and the next attestation quotes it. The request carries the EK certificate, EK and AK
 * publics; the evidence answers the credential challenge with ActivateCredential and a quote over the boot PCRs
 * with the recovered nonce, and the event log. Work for one boot waits for that boot's measurements.
 */
export class TpmAttestor implements Attestor {
  readonly kind = TPM2_QUOTE_KIND;
  /** The TPM as the latest boot left it (undefined: off; rejected: its power-on failed). */
  private power: Promise<TpmDevice | undefined> = Promise.resolve(undefined);
  /** What the latest boot measured (undefined: off): a power-on that failed is tried again with them. */
  private stages: readonly MeasuredStage[] | undefined;
  /** The request this boot sent: the evidence repeats its EK and AK. */
  private sent: Tpm2AttestRequest | undefined;

  constructor(private readonly device: Pick<TpmDeviceIdentity, 'dir' | 'deviceId' | 'idevidPem'>) {}

  booted(boot: BootResult): void {
    const stages = bootStages(boot);
    this.stages = stages;
    this.sent = undefined;
    this.power = this.power
      .catch(() => undefined)
      .then(async (previous) => {
        await previous?.shutdown();
        return TpmDevice.boot(this.device, stages);
      });
  }

  /** The TPM of this boot, powered on (again, if its power-on failed). */
  current(): Promise<TpmDevice> {
    return this.powered();
  }

  async request(): Promise<string> {
    const request = await (await this.powered()).attestationRequest();
    this.sent = request;
    return JSON.stringify(request);
  }

  async evidence(challenge: AttestChallenge): Promise<Tpm2QuoteEvidence> {
    if (challenge.type !== 'tpm2-credential') throw new Error(`a TPM device cannot answer a ${challenge.type} challenge`);
    const request = this.sent;
    if (request === undefined) throw new Error('a credential challenge before any request on this boot');
    return (await this.powered()).evidenceFor(request, challenge);
  }

  async shutdown(): Promise<void> {
    const previous = this.power;
    this.stages = undefined;
    this.power = Promise.resolve(undefined);
    await (await previous.catch(() => undefined))?.shutdown();
  }

  /**
   * The TPM of this boot. A power-on that failed (swtpm did not start, a command failed) is tried again with the
   * boot's stages, so one bad start does not leave the TPM off until the next reboot; callers that come together
   * share one retry.
   */
  private async powered(): Promise<TpmDevice> {
    const current = this.power;
    if ((await current.catch(() => undefined)) === undefined && this.stages !== undefined) {
      const stages = this.stages;
      if (this.power === current) {
        this.power = current.catch(() => undefined).then((device) => device ?? TpmDevice.boot(this.device, stages));
      }
    }
    const device = await this.power;
    if (device === undefined) throw new Error('the TPM is off');
    return device;
  }
}

/** The identity an `EmulatedDevice` attests with: its security subsystem for TLS, and a `TpmAttestor` on its TPM. */
export function tpmDeviceIdentity(device: TpmDeviceIdentity, gatewayCaPem: string): DeviceIdentity & { readonly attestor: TpmAttestor } {
  return {
    security: device.security,
    identityCertificatePem: device.identityCertificatePem,
    gatewayCaPem,
    attestor: new TpmAttestor(device),
  };
}
