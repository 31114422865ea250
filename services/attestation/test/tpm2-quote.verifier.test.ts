import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttestationReason, type Tpm2AttestRequest, type Tpm2QuoteEvidence } from '@rampart/contracts';
import {
  TpmDevice,
  demoFirmware,
  firmwareStages,
  manufactureTpmDevice,
  type MeasuredStage,
  type TpmDeviceIdentity,
} from '@rampart/emulator';
import { CertificateAuthority, spkiOf } from '@rampart/trust';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvidenceVerifier, measurementKey, type AttestationPolicy } from '../src/attestation/evidence-verifier.js';
import { InMemorySpentNonces, SealedNonceStore } from '../src/attestation/nonce-store.js';
import { ChallengeSeal } from '../src/attestation/evidence/tpm2-quote/challenge-seal.js';
import { Tpm2QuoteAuthenticator } from '../src/attestation/evidence/tpm2-quote/tpm2-quote.authenticator.js';
import { ManufacturerEndorsement } from '../src/attestation/evidence/manufacturer-endorsement.js';
import { createAuthenticators } from '../src/attestation/evidence/evidence-authenticators.js';

const GOOD: MeasuredStage[] = firmwareStages(demoFirmware());
const TAMPERED: MeasuredStage[] = GOOD.map((s) => (s.stage === 'os' ? { ...s, sha256: 'ee'.repeat(32) } : s));
const policy: AttestationPolicy = {
  measurements: new Map(GOOD.map((s) => [measurementKey(s.stage, s.sha256), 'released' as const])),
  floors: new Map([['os', 1]]),
};

/**
 * The `tpm2-quote` kind through the shared verifier, on quotes from real swtpm TPMs driven by tpm2-tools: the
 * challenge (MakeCredential) made as the service makes it, the evidence as the device makes it.
 */
describe(Tpm2QuoteAuthenticator.name, () => {
  let dir: string;
  /** After the factory: an EK certificate is valid from when swtpm_localca signed it. */
  let now = 0;
  const secret = randomBytes(32);
  let authenticator: Tpm2QuoteAuthenticator;
  let verifier: EvidenceVerifier;
  let nonces: SealedNonceStore;
  let honest: TpmDevice;
  let tampered: TpmDevice;
  let other: TpmDevice;
  let offVendor: TpmDevice;
  const devices: TpmDevice[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-tpm-verifier-'));
    const vendor = await CertificateAuthority.create('Test TPM Vendor');
    const unknownVendor = await CertificateAuthority.create('Unknown TPM Vendor');
    const manufacturer = await CertificateAuthority.create('Test Device Manufacturer');
    const vendorCa = await vendor.export();
    const unknownCa = await unknownVendor.export();
    const make = (name: string, ca: typeof vendorCa): Promise<TpmDeviceIdentity> =>
      manufactureTpmDevice(join(dir, name), { keyPem: ca.privateKeyPem, certificatePem: ca.certificatePem }, manufacturer);
    const [a, b, c, d] = await Promise.all([
      make('honest', vendorCa),
      make('tampered', vendorCa),
      make('other', vendorCa),
      make('off-vendor', unknownCa),
    ]);
    honest = await TpmDevice.boot(a, GOOD);
    tampered = await TpmDevice.boot(b, TAMPERED);
    other = await TpmDevice.boot(c, GOOD);
    offVendor = await TpmDevice.boot(d, GOOD);
    devices.push(honest, tampered, other, offVendor);
    now = Date.now();
    const endorsement = new ManufacturerEndorsement([manufacturer.certificatePem]);
    authenticator = new Tpm2QuoteAuthenticator([vendor.certificatePem], endorsement, new ChallengeSeal(secret));
    verifier = new EvidenceVerifier(createAuthenticators(endorsement, authenticator));
    nonces = new SealedNonceStore(secret, 30_000, new InMemorySpentNonces(() => now));
  });

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.shutdown()));
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** The service's side of the first message. */
  async function challengeFor(device: TpmDevice, request: Tpm2AttestRequest) {
    const tpm = authenticator.checkTpm(request, now);
    if ('reason' in tpm) throw new Error(`${tpm.reason}: ${tpm.detail}`);
    const { nonce, expiresAt } = await nonces.issue(device.deviceId, now);
    return authenticator.challenge(device.deviceId, tpm, nonce, expiresAt);
  }

  async function honestEvidence(device: TpmDevice): Promise<Tpm2QuoteEvidence> {
    const request = await device.attestationRequest();
    return device.evidenceFor(request, await challengeFor(device, request));
  }

  const verify = (evidence: Tpm2QuoteEvidence) =>
    verifier.verify(Buffer.from(JSON.stringify(evidence)), {
      now,
      nonces,
      policy: () => Promise.resolve(policy),
      device: () => Promise.resolve({ claimedBy: 'acme', revoked: false }),
    });

  it("passes a quote over the boot it measured, for the IDevID's key, with the stages, versions and security versions", async () => {
    const verdict = await verify(await honestEvidence(honest));
    if (!verdict.pass) throw new Error(`refused: ${verdict.reasons.join()} ${verdict.detail ?? ''}`);
    expect(verdict.evidence.deviceId).toBe(honest.deviceId);
    expect(verdict.evidence.devicePublicKeySpki.equals(spkiOf(new X509Certificate(honest.identity.idevidPem).publicKey))).toBe(true);
    expect(verdict.evidence.bootLog).toEqual(GOOD.map(({ stage, sha256 }) => ({ stage, sha256 })));
    expect(verdict.evidence.versions).toEqual({ os: '1.0.0', apps: { sensor: GOOD.at(-1)!.version } });
    expect(verdict.evidence.securityVersions).toMatchObject({ bootloader: 1, 'security-monitor': 1, os: 1 });
  });

  it('refuses a tampered stage: its measurement is unknown', async () => {
    expect(await verify(await honestEvidence(tampered))).toMatchObject({ pass: false, reasons: [AttestationReason.measurementUnknown] });
  });

  it('refuses a replayed quote, and an old quote answering a new challenge', async () => {
    const evidence = await honestEvidence(honest);
    expect((await verify(evidence)).pass).toBe(true);
    expect(await verify(evidence)).toMatchObject({ pass: false, reasons: [AttestationReason.nonceReplayed] });
    const fresh = await honestEvidence(honest);
    expect(await verify({ ...fresh, quote: evidence.quote, signature: evidence.signature })).toMatchObject({
      pass: false,
      reasons: [AttestationReason.nonceReplayed],
    });
  });

  it("refuses an AK not bound to the EK: another TPM's AK cannot activate this EK's credential", async () => {
    const request = { ...(await honest.attestationRequest()), akPublic: (await other.attestationRequest()).akPublic };
    const challenge = await challengeFor(honest, request);
    // The TPM holding the EK refuses: the credential is for a key it does not hold.
    await expect(honest.evidenceFor(request, challenge)).rejects.toThrow();
    // So the other TPM quotes its (good) PCRs with a nonce it had to guess.
    const guess = await other.tpm.quote([0, 4, 5, 8, 9], randomBytes(32));
    const evidence = await honest.evidenceFor(request, challenge, () => Promise.resolve(randomBytes(32)));
    expect(
      await verify({ ...evidence, quote: guess.quote.toString('base64url'), signature: guess.signature.toString('base64url') }),
    ).toMatchObject({ pass: false, reasons: [AttestationReason.akNotBound] });
  });

  it('refuses an event log that does not replay to the quoted PCRs', async () => {
    const good = await honestEvidence(honest);
    const evidence = await honestEvidence(tampered);
    expect(await verify({ ...evidence, eventLog: good.eventLog })).toMatchObject({
      pass: false,
      reasons: [AttestationReason.eventLogInvalid],
    });
  });

  it('refuses an EK whose certificate is not from a trusted TPM vendor, at the request and in the evidence', async () => {
    const request = await offVendor.attestationRequest();
    expect(authenticator.checkTpm(request, now)).toMatchObject({ reason: AttestationReason.ekUntrusted });
    const honestRequest = await honest.attestationRequest();
    expect(authenticator.checkTpm({ ...honestRequest, ekCertificate: request.ekCertificate }, now)).toMatchObject({
      reason: AttestationReason.ekUntrusted,
    });
    const evidence = await honestEvidence(honest);
    expect(await verify({ ...evidence, ekCertificate: request.ekCertificate, ekPublic: request.ekPublic })).toMatchObject({
      pass: false,
      reasons: [AttestationReason.ekUntrusted],
    });
  });

  it('refuses an AK that is not restricted, or not fixed to its TPM', async () => {
    const request = await honest.attestationRequest();
    for (const bit of [1 << 16, 1 << 1]) {
      const ak = Buffer.from(request.akPublic, 'base64url');
      ak.writeUInt32BE((ak.readUInt32BE(6) & ~bit) >>> 0, 6);
      expect(authenticator.checkTpm({ ...request, akPublic: ak.toString('base64url') }, now)).toMatchObject({
        reason: AttestationReason.akInvalid,
      });
    }
  });

  it("refuses an IDevID that names another TPM, and a challenge moved to another device's TPM", async () => {
    const evidence = await honestEvidence(honest);
    const otherIdevid = new X509Certificate(other.identity.idevidPem).raw.toString('base64url');
    expect(await verify({ ...evidence, idevid: otherIdevid })).toMatchObject({ pass: false, reasons: [AttestationReason.tpmMismatch] });
    const theirs = await honestEvidence(other);
    expect(await verify({ ...theirs, challenge: evidence.challenge })).toMatchObject({
      pass: false,
      reasons: [AttestationReason.akNotBound],
    });
  });

  it('refuses TPM evidence as EK_UNTRUSTED when no TPM vendor is trusted', async () => {
    const psaOnly = new EvidenceVerifier(createAuthenticators(new ManufacturerEndorsement([])));
    const verdict = await psaOnly.verify(Buffer.from(JSON.stringify(await honestEvidence(honest))), {
      now,
      nonces,
      policy: () => Promise.resolve(policy),
      device: () => Promise.resolve({ claimedBy: 'acme', revoked: false }),
    });
    expect(verdict).toMatchObject({ pass: false, kind: 'tpm2-quote', reasons: [AttestationReason.ekUntrusted] });
  });

  it('refuses malformed TPM evidence', async () => {
    const evidence = await honestEvidence(honest);
    expect(await verify({ ...evidence, quote: evidence.quote.slice(0, 40) })).toMatchObject({
      pass: false,
      reasons: [AttestationReason.quoteInvalid],
    });
    expect(
      await verifier.verify(Buffer.from(JSON.stringify({ ...evidence, extra: 1 })), {
        now,
        nonces,
        policy: () => Promise.resolve(policy),
        device: () => Promise.resolve(undefined),
      }),
    ).toMatchObject({
      pass: false,
      reasons: [AttestationReason.malformedEvidence],
    });
  });
});
