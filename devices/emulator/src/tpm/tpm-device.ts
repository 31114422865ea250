import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import {
  TPM2_QUOTE_KIND,
  attestResponseTopic,
  deviceTopic,
  type AttestationResponse,
  type DeviceTelemetry,
  type Tpm2AttestRequest,
  type Tpm2CredentialChallenge,
  type Tpm2QuoteEvidence,
} from '@rampart/contracts';
import {
  HW_TYPE_TPM2,
  deviceIdFromSpki,
  measureImage,
  parseTpm2bPublic,
  publicKeyOf,
  spkiOf,
  tpmSerialOf,
  type CertificateAuthority,
} from '@rampart/trust';
import type { Firmware } from '../firmware/firmware.js';
import { ROM_MEASUREMENT } from '../mcu/secure-boot.js';
import { QUOTED_PCRS, measureBoot, type MeasuredStage } from './measured-boot.js';
import { Swtpm, manufactureTpm, type TpmVendorCa } from './swtpm.js';
import { TpmClient } from './tpm-client.js';

/** How long a TPM device waits for each attestation answer. */
export const DEFAULT_TPM_ATTEST_TIMEOUT_MS = 15_000;

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

/** What the factory leaves on the device: its TPM (state in `dir/state`), its TLS key and its IDevID naming that TPM. */
export interface TpmDeviceIdentity {
  readonly dir: string;
  readonly deviceId: string;
  readonly keyPem: string;
  readonly idevidPem: string;
}

export interface TpmGatewayEndpoint {
  readonly host: string;
  readonly port: number;
  readonly servername?: string;
  readonly caPem: string;
}

/** The platform's answer to one attestation. */
export type TpmAttestation =
  | { readonly pass: true; readonly certificatePem: string; readonly chainPem: string; readonly evidence: Tpm2QuoteEvidence }
  | { readonly pass: false; readonly reasons: readonly string[]; readonly evidence?: Tpm2QuoteEvidence };

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
 * The factory: a TPM from its vendor (EK and EK certificate), then the device maker's step — a TLS key for the
 * device and an IDevID from the manufacturer CA that names the device's TPM (RFC 4108 hardwareModuleName, the EK's
 * serial as Rampart gives it), so the platform can check the TPM that quotes is the one this identity was made for.
 */
export async function manufactureTpmDevice(
  dir: string,
  tpmVendor: TpmVendorCa,
  manufacturer: CertificateAuthority,
): Promise<TpmDeviceIdentity> {
  await mkdir(dir, { recursive: true });
  await manufactureTpm(dir, tpmVendor);
  const tpm = await Swtpm.start(dir);
  let ekPublic: Buffer;
  try {
    const client = await TpmClient.open(tpm, dir);
    ekPublic = await client.ekPublic();
    await client.close();
  } finally {
    await tpm.stop();
  }
  const serial = tpmSerialOf(publicKeyOf(parseTpm2bPublic(ekPublic)));
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = spkiOf(publicKey);
  const deviceId = deviceIdFromSpki(spki);
  const idevid = await manufacturer.issueDeviceIdentity(deviceId, spki, undefined, { hwType: HW_TYPE_TPM2, serial });
  const identity: TpmDeviceIdentity = {
    dir,
    deviceId,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    idevidPem: idevid.toString('pem'),
  };
  await writeFile(join(dir, 'device.key'), identity.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'idevid.pem'), identity.idevidPem);
  return identity;
}

/**
 * A Linux-class device with a TPM 2.0 (its own swtpm): it measures each boot stage into the TPM and keeps the event
 * log, makes an attestation key under the EK, attests over MQTT on its IDevID (request with EK and AK → credential
 * challenge → ActivateCredential → quote), then works on its LDevID like any other device.
 */
export class TpmDevice {
  private operational: MqttClient | undefined;

  private constructor(
    readonly identity: TpmDeviceIdentity,
    private readonly swtpm: Swtpm,
    readonly tpm: TpmClient,
    private readonly eventLog: Buffer,
    private readonly akPublic: Buffer,
  ) {}

  get deviceId(): string {
    return this.identity.deviceId;
  }

  /** Power-on: the TPM starts (PCRs reset), each stage is measured before it runs, the AK is made. */
  static async boot(identity: TpmDeviceIdentity, stages: readonly MeasuredStage[]): Promise<TpmDevice> {
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

  /** One attestation on the IDevID connection; on a pass the device keeps the LDevID for `connectOperational`. */
  async attest(gateway: TpmGatewayEndpoint, hooks: AttestHooks = {}, timeoutMs = DEFAULT_TPM_ATTEST_TIMEOUT_MS): Promise<TpmAttestation> {
    const client = await connect(gateway, this.deviceId, this.identity.keyPem, this.identity.idevidPem);
    try {
      const responses = responseQueue(client, attestResponseTopic(this.deviceId), timeoutMs);
      await client.subscribeAsync(attestResponseTopic(this.deviceId), { qos: 1 });
      const request = hooks.request ? hooks.request(await this.attestationRequest()) : await this.attestationRequest();
      await client.publishAsync(deviceTopic(this.deviceId, 'attestRequest'), JSON.stringify(request), { qos: 1 });
      const first = await responses.next();
      if (first.type === 'error') return { pass: false, reasons: [first.code] };
      if (first.type === 'verdict')
        return first.verdict.pass ? { pass: false, reasons: ['UNEXPECTED_PASS'] } : { pass: false, reasons: first.verdict.reasons };
      if (first.type !== 'tpm2-credential') return { pass: false, reasons: [`UNEXPECTED_${first.type.toUpperCase()}`] };
      const made = await this.evidenceFor(request, first, hooks.activate);
      const evidence = hooks.evidence ? hooks.evidence(made) : made;
      await client.publishAsync(deviceTopic(this.deviceId, 'attestEvidence'), JSON.stringify(evidence), { qos: 1 });
      const answer = await responses.next();
      if (answer.type !== 'verdict')
        return { pass: false, reasons: [answer.type === 'error' ? answer.code : 'UNEXPECTED_ANSWER'], evidence };
      if (!answer.verdict.pass) return { pass: false, reasons: answer.verdict.reasons, evidence };
      return { pass: true, certificatePem: answer.verdict.certificatePem, chainPem: answer.verdict.chainPem, evidence };
    } finally {
      await client.endAsync();
    }
  }

  /** Connects on the LDevID (the same TLS key), as every attested device does. */
  async connectOperational(gateway: TpmGatewayEndpoint, attestation: Extract<TpmAttestation, { pass: true }>): Promise<void> {
    this.operational = await connect(gateway, this.deviceId, this.identity.keyPem, `${attestation.certificatePem}${attestation.chainPem}`);
  }

  /** One reading, QoS 1: resolves on the gateway's PUBACK (the reading is in the stream). */
  async publishTelemetry(reading: DeviceTelemetry): Promise<void> {
    if (this.operational === undefined) throw new Error('not connected on an operational certificate');
    await this.operational.publishAsync(deviceTopic(this.deviceId, 'telemetry'), JSON.stringify(reading), { qos: 1 });
  }

  async shutdown(): Promise<void> {
    await this.operational?.endAsync();
    this.operational = undefined;
    await this.tpm.close();
    await this.swtpm.stop();
  }
}

/** Reads an identity the factory left in `dir`. */
export async function loadTpmDeviceIdentity(dir: string): Promise<TpmDeviceIdentity> {
  const keyPem = await readFile(join(dir, 'device.key'), 'utf8');
  const idevidPem = await readFile(join(dir, 'idevid.pem'), 'utf8');
  return { dir, keyPem, idevidPem, deviceId: deviceIdFromSpki(spkiOf(new X509Certificate(idevidPem).publicKey)) };
}

async function connect(gateway: TpmGatewayEndpoint, clientId: string, keyPem: string, certificatePem: string): Promise<MqttClient> {
  return mqtt.connectAsync({
    protocol: 'mqtts',
    host: gateway.host,
    port: gateway.port,
    servername: gateway.servername ?? 'localhost',
    ca: gateway.caPem,
    key: keyPem,
    cert: certificatePem,
    rejectUnauthorized: true,
    clientId,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });
}

/** The platform's answers on the response topic, one at a time, each awaited with a timeout. */
function responseQueue(client: MqttClient, topic: string, timeoutMs: number): { next(): Promise<AttestationResponse> } {
  const queued: AttestationResponse[] = [];
  const waiting: Array<(response: AttestationResponse) => void> = [];
  client.on('message', (received, payload) => {
    if (received !== topic) return;
    let response: AttestationResponse;
    try {
      response = JSON.parse(payload.toString('utf8')) as AttestationResponse;
    } catch {
      return;
    }
    const waiter = waiting.shift();
    if (waiter) waiter(response);
    else queued.push(response);
  });
  return {
    next: () => {
      const ready = queued.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no attestation answer within ${timeoutMs} ms`)), timeoutMs);
        waiting.push((response) => {
          clearTimeout(timer);
          resolve(response);
        });
      });
    },
  };
}
