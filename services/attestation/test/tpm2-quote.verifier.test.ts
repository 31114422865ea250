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
  storeTpmVendorCa,
  type MeasuredStage,
  type TpmDeviceIdentity,
} from '@rampart/emulator';
import { CertificateAuthority, specIdEvent, spkiOf, stageEvent } from '@rampart/trust';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvidenceVerifier, measurementKey, type AttestationPolicy } from '../src/attestation/evidence-verifier.js';
import { InMemorySpentNonces, SealedNonceStore } from '../src/attestation/nonce-store.js';
import { ChallengeSeal } from '../src/attestation/evidence/tpm2-quote/challenge-seal.js';
import { Tpm2QuoteAuthenticator } from '../src/attestation/evidence/tpm2-quote/tpm2-quote.authenticator.js';
import { Tpm2ChallengeIssuer } from '../src/attestation/evidence/tpm2-quote/tpm2-challenge-issuer.js';
import { checkTpm } from '../src/attestation/evidence/tpm2-quote/tpm-check.js';
import { TpmVendorEndorsement } from '../src/attestation/evidence/tpm-vendor-endorsement.js';
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
  let vendors: TpmVendorEndorsement;
  let issuer: Tpm2ChallengeIssuer;
  let chained: TpmDevice;
  let rootOnly: TpmVendorEndorsement;
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
    // A vendor as real ones are: a root (the anchor) and an issuing CA that signs the EK certificates.
    const chainRoot = await CertificateAuthority.create('Test TPM Vendor Root', 3650, 1);
    const issuing = await chainRoot.issueIntermediate('Test TPM Vendor Issuing CA', 365);
    const issuingCa = await issuing.export();
    const unknownCa = await unknownVendor.export();
    const make = async (name: string, ca: typeof vendorCa): Promise<TpmDeviceIdentity> =>
      manufactureTpmDevice(join(dir, name), await storeTpmVendorCa(join(dir, `${name}-vendor`), ca), manufacturer);
    const [a, b, c, d, e] = await Promise.all([
      make('honest', vendorCa),
      make('tampered', vendorCa),
      make('other', vendorCa),
      make('off-vendor', unknownCa),
      make('chained', issuingCa),
    ]);
    honest = await TpmDevice.boot(a, GOOD);
    tampered = await TpmDevice.boot(b, TAMPERED);
    other = await TpmDevice.boot(c, GOOD);
    offVendor = await TpmDevice.boot(d, GOOD);
    chained = await TpmDevice.boot(e, GOOD);
    devices.push(honest, tampered, other, offVendor, chained);
    now = Date.now();
    const endorsement = new ManufacturerEndorsement([manufacturer.certificatePem]);
    vendors = new TpmVendorEndorsement([vendor.certificatePem, chainRoot.certificatePem, issuing.certificatePem]);
    rootOnly = new TpmVendorEndorsement([vendor.certificatePem, chainRoot.certificatePem]);
    authenticator = new Tpm2QuoteAuthenticator(vendors, endorsement, new ChallengeSeal(secret));
    verifier = new EvidenceVerifier(createAuthenticators(endorsement, authenticator));
    nonces = new SealedNonceStore(secret, 30_000, new InMemorySpentNonces(() => now));
    issuer = new Tpm2ChallengeIssuer(vendors, new ChallengeSeal(secret), nonces);
  });

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.shutdown()));
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** The service's side of the first message. */
  async function challengeFor(device: TpmDevice, request: Tpm2AttestRequest) {
    const challenge = await issuer.issue(device.deviceId, request, now);
    if ('reason' in challenge) throw new Error(`${challenge.reason}: ${challenge.detail}`);
    return challenge;
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
    expect(checkTpm(vendors, request, now)).toMatchObject({ reason: AttestationReason.ekUntrusted });
    const honestRequest = await honest.attestationRequest();
    expect(checkTpm(vendors, { ...honestRequest, ekCertificate: request.ekCertificate }, now)).toMatchObject({
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
      expect(checkTpm(vendors, { ...request, akPublic: ak.toString('base64url') }, now)).toMatchObject({
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

  it('refuses a quote that leaves out a stage PCR: apps cannot hide behind an unquoted PCR 9', async () => {
    const request = await honest.attestationRequest();
    const challenge = await challengeFor(honest, request);
    const nonce = await honest.tpm.activateCredential(
      Buffer.from(challenge.idObject, 'base64url'),
      Buffer.from(challenge.encryptedSecret, 'base64url'),
    );
    // The device ran its apps (PCR 9 extended) but quotes without PCR 9 and sends a log without them.
    const partial = await honest.tpm.quote([0, 4, 5, 8], nonce);
    const withoutApps = Buffer.concat([specIdEvent(), ...GOOD.filter((s) => !s.stage.startsWith('app:')).map((s) => stageEvent(s).event)]);
    const evidence = await honest.evidenceFor(request, challenge, () => Promise.resolve(nonce));
    expect(
      await verify({
        ...evidence,
        quote: partial.quote.toString('base64url'),
        signature: partial.signature.toString('base64url'),
        eventLog: withoutApps.toString('base64url'),
      }),
    ).toMatchObject({ pass: false, reasons: [AttestationReason.eventLogInvalid], detail: expect.stringContaining('9') as unknown });
  });

  it('refuses a crafted EK template with EK_UNTRUSTED instead of failing the challenge', async () => {
    const request = await honest.attestationRequest();
    const sha1 = Buffer.from(request.ekPublic, 'base64url');
    sha1.writeUInt16BE(0x0004, 4); // nameAlg: SHA-1, whose digest cannot carry the nonce
    const cbc = Buffer.from(request.ekPublic, 'base64url');
    const modeAt = 10 + 2 + cbc.readUInt16BE(10) + 4; // after attributes, authPolicy, symmetric algorithm and keyBits
    cbc.writeUInt16BE(0x0042, modeAt); // TPM_ALG_CBC
    for (const ekPublic of [sha1, cbc]) {
      await expect(issuer.issue(honest.deviceId, { ...request, ekPublic: ekPublic.toString('base64url') }, now)).resolves.toMatchObject({
        reason: AttestationReason.ekUntrusted,
        detail: expect.stringContaining('EK template') as unknown,
      });
    }
  });

  it('trusts an EK certificate through the vendor issuing CA in TPM_VENDOR_CA_FILE, and not without it', async () => {
    const verdict = await verify(await honestEvidence(chained));
    if (!verdict.pass) throw new Error(`refused: ${verdict.reasons.join()} ${verdict.detail ?? ''}`);
    expect(checkTpm(rootOnly, await chained.attestationRequest(), now)).toMatchObject({
      reason: AttestationReason.ekUntrusted,
      detail: expect.stringContaining('not a trusted TPM vendor') as unknown,
    });
  });

  it('refuses a vendor bundle holding a certificate that is no CA, or no root', async () => {
    expect(() => new TpmVendorEndorsement([honest.identity.idevidPem])).toThrow(/not a CA certificate/);
    const chainRoot = await CertificateAuthority.create('Lone Root', 3650, 1);
    const issuing = await chainRoot.issueIntermediate('Lone Issuing CA', 365);
    expect(() => new TpmVendorEndorsement([issuing.certificatePem])).toThrow(/no self-signed root/);
  });
});
