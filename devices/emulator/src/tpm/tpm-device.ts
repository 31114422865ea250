import { X509Certificate } from 'node:crypto';
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TPM2_QUOTE_KIND, type Tpm2AttestRequest, type Tpm2CredentialChallenge, type Tpm2QuoteEvidence } from '@rampart/contracts';
import { HW_TYPE_TPM2, measureImage, parseTpm2bPublic, publicKeyOf, tpmSerialOf, type CertificateAuthority } from '@rampart/trust';
import { manufactureDevice, type ManufactureOptions, type ManufacturedDevice } from '../factory/manufacture.js';
import type { Firmware } from '../firmware/firmware.js';
import { ROM_MEASUREMENT } from '../mcu/secure-boot.js';
import { DirectoryStateStore } from '../mcu/state-store.js';
import { QUOTED_PCRS, measureBoot, type MeasuredStage } from './measured-boot.js';
import { Swtpm, manufactureTpm, type TpmVendorCa } from './swtpm.js';
import { TpmClient } from './tpm-client.js';

/** The stages a Linux-class device boots from a firmware release: the MCU's stage names and measurements. */
export function firmwareStages(firmware: Firmware): MeasuredStage[] {
  return [
    { stage: 'rom', sha256: ROM_MEASUREMENT, version: '1', securityVersion: 0 },
    ...[firmware.bootloader, firmware.securityMonitor, firmware.os, ...firmware.apps].map((image) => ({
      stage: image.manifest.component,
      sha256: measureImage(image),
      version: image.manifest.version,
      securityVersion: image.manifest.securityVersion,
    })),
  ];
}

/**
 * What the factory leaves on a TPM device: its TPM (state in `dir/state`), its security subsystem (the TLS key, the
 * flash with its firmware, fuses, state) and its IDevID naming that TPM.
 */
export interface TpmDeviceIdentity extends ManufacturedDevice {
  readonly dir: string;
  readonly deviceId: string;
  /** The IDevID, PEM (the same as `identityCertificatePem`). */
  readonly idevidPem: string;
}

/** Ways a test makes a device misbehave, each at one step of the protocol. */
export interface AttestHooks {
  /** Changes the first message (another TPM's AK, another EK certificate). */
  readonly request?: (request: Tpm2AttestRequest) => Tpm2AttestRequest;
  /** Replaces the credential activation (a device that cannot activate answers with what it has). */
  readonly activate?: (challenge: Tpm2CredentialChallenge) => Promise<Buffer>;
  /** Changes the evidence before it is sent (a replayed quote, a doctored event log). */
  readonly evidence?: (evidence: Tpm2QuoteEvidence) => Tpm2QuoteEvidence;
}

/**
 * The factory: a TPM from its vendor (EK and EK certificate), then the device maker's step — the device's security
 * subsystem and firmware, as for any device, and an IDevID from the manufacturer CA that names the device's TPM
 * (RFC 4108 hardwareModuleName, the EK's serial as Rampart gives it), so the platform can check the TPM that quotes
 * is the one this identity was made for. The device's state is kept in `dir/device` unless `options.store` says
 * otherwise; on a `dir` and store that already hold a device, that device is returned as it is.
 */
export async function manufactureTpmDevice(
  dir: string,
  tpmVendor: TpmVendorCa,
  manufacturer: CertificateAuthority,
  options: ManufactureOptions = {},
): Promise<TpmDeviceIdentity> {
  await mkdir(dir, { recursive: true });
  // A device restarted on its state keeps its TPM (its EK is what its IDevID names).
  const made = await access(join(dir, 'state', 'tpm2-00.permall')).then(
    () => true,
    () => false,
  );
  if (!made) await manufactureTpm(dir, tpmVendor);
  const tpm = await Swtpm.start(dir);
  let ekPublic: Buffer;
  try {
    const client = await TpmClient.open(tpm, dir);
    ekPublic = await client.ekPublic();
    await client.orderlyShutdown();
    await client.close();
  } finally {
    await tpm.stop();
  }
  const serial = tpmSerialOf(publicKeyOf(parseTpm2bPublic(ekPublic)));
  const device = await manufactureDevice(manufacturer, {
    ...options,
    store: options.store ?? new DirectoryStateStore(join(dir, 'device')),
    hardwareModule: { hwType: HW_TYPE_TPM2, serial },
  });
  return { ...device, dir, deviceId: device.security.deviceId, idevidPem: device.identityCertificatePem };
}

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
    try {
      const tpm = await TpmClient.open(swtpm, identity.dir);
      const eventLog = await measureBoot(tpm, stages);
      const akPublic = await tpm.createAttestationKey();
      return new TpmDevice(identity, swtpm, tpm, eventLog, akPublic);
    } catch (error) {
      await swtpm.stop();
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
    activate?: AttestHooks['activate'],
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
    await this.tpm.orderlyShutdown().catch(() => undefined);
    await this.tpm.close();
    await this.swtpm.stop();
  }
}
