import { X509Certificate } from 'node:crypto';
import { AttestationReason, type EvidenceEnvelope } from '@rampart/contracts';
import {
  SecuritySubsystem,
  certificateForEnvelope,
  createPsaEvidence,
  manufactureDevice,
  measure,
  psaClaimsFor,
  type BootState,
  type ManufacturedDevice,
} from '@rampart/emulator';
import {
  COSE_ALG,
  COSE_HEADER,
  CertificateAuthority,
  ImageSigner,
  MAX_DETAIL_CHARS,
  OperationalCertificateIssuer,
  PSA_CLAIM,
  PSA_LIFECYCLE,
  encodeCbor,
  encodeClaims,
  instanceIdOf,
  signSign1,
  type PsaClaims,
} from '@rampart/trust';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticators } from './evidence/evidence-authenticators.js';
import { ManufacturerEndorsement } from './evidence/manufacturer-endorsement.js';
import { EvidenceVerifier, measurementKey, type AttestationPolicy, type DeviceState } from './evidence-verifier.js';
import { InMemorySpentNonces, SealedNonceStore } from './nonce-store.js';

const image = (name: string) => measure(Buffer.from(`image ${name}`));
const platformSigner = ImageSigner.create().keyId;
const appSigner = ImageSigner.create().keyId;
const goodBoot: BootState = {
  bootLog: [
    { stage: 'rom', sha256: image('rom 1') },
    { stage: 'bootloader', sha256: image('bootloader 3') },
    { stage: 'security-monitor', sha256: image('monitor 7') },
    { stage: 'os', sha256: image('os 24.1') },
    { stage: 'app:thermostat', sha256: image('thermostat 1.2') },
  ],
  signers: { bootloader: platformSigner, 'security-monitor': platformSigner, os: platformSigner, 'app:thermostat': appSigner },
  securityVersions: { bootloader: 3, os: 5 },
  versions: { os: '24.1', apps: { thermostat: '1.2' } },
};

function policyFor(boot: BootState, overrides: Partial<{ revoked: string; floors: Record<string, number> }> = {}): AttestationPolicy {
  const measurements = new Map<string, 'released' | 'revoked'>(boot.bootLog.map((m) => [measurementKey(m.stage, m.sha256), 'released']));
  if (overrides.revoked !== undefined) measurements.set(overrides.revoked, 'revoked');
  return { measurements, floors: new Map(Object.entries(overrides.floors ?? { bootloader: 3, os: 4 })) };
}

const encode = (evidence: EvidenceEnvelope) => Buffer.from(JSON.stringify(evidence));

/** A PSA envelope around token bytes, with the device's genuine IDevID. */
const envelopeOf = (made: ManufacturedDevice, token: Uint8Array) =>
  encode({
    kind: 'psa-token',
    token: Buffer.from(token).toString('base64url'),
    iakCertificate: certificateForEnvelope(made.identityCertificatePem),
  });

/** A token the device's own key signs, over claims it would never write (each attack edits the honest claims map). */
function signedBy(made: ManufacturedDevice, claims: Map<number, unknown>, protectedHeader?: Map<number, unknown>) {
  return signSign1(encodeCbor(claims), (tbs) => made.security.attestationSign(tbs), protectedHeader);
}

describe(EvidenceVerifier.name, () => {
  let manufacturer: CertificateAuthority;
  let verifier: EvidenceVerifier;
  const now = Date.now();

  beforeAll(async () => {
    manufacturer = await CertificateAuthority.create('Test manufacturer');
    verifier = new EvidenceVerifier(createAuthenticators(new ManufacturerEndorsement([manufacturer.certificatePem])));
  });

  /** `'unknown'`: the registry has never seen the device. */
  async function scenario(registered: DeviceState | 'unknown' = { claimedBy: 'acme', revoked: false }) {
    const device = registered === 'unknown' ? undefined : registered;
    const made = await manufactureDevice(manufacturer);
    const nonces = new SealedNonceStore(Buffer.alloc(32, 9), 30_000, new InMemorySpentNonces(() => now));
    const { nonce } = await nonces.issue(made.security.deviceId, now);
    const context = { now, nonces, policy: () => Promise.resolve(policyFor(goodBoot)), device: () => Promise.resolve(device) };
    return { made, nonces, nonce, context };
  }

  it('passes honest evidence and yields the key a certificate can be issued for', async () => {
    const { made, nonce, context } = await scenario();
    const verdict = await verifier.verify(encode(createPsaEvidence(made.security, made.identityCertificatePem, nonce, goodBoot)), context);
    expect(verdict).toMatchObject({
      pass: true,
      kind: 'psa-token',
      tenantId: 'acme',
      evidence: { versions: { os: '24.1', apps: { thermostat: '1.2' } } },
    });
    if (!verdict.pass) return;
    const tenantCa = await (await CertificateAuthority.create('root', 3650, 1)).issueIntermediate('acme', 30);
    const issuer = new OperationalCertificateIssuer(
      Buffer.from(tenantCa.certificate.rawData),
      (await tenantCa.export()).privateKeyPem,
      'acme',
    );
    const cert = new X509Certificate(
      issuer.issue({
        deviceId: made.security.deviceId,
        tenantId: 'acme',
        subjectPublicKeySpki: verdict.evidence.devicePublicKeySpki,
        notBefore: new Date(now),
        notAfter: new Date(now + 86_400_000),
      }),
    );
    expect(cert.publicKey.equals(made.security.publicKey)).toBe(true);
  });

  it('refuses a replayed nonce', async () => {
    const { made, nonce, context } = await scenario();
    const evidence = encode(createPsaEvidence(made.security, made.identityCertificatePem, nonce, goodBoot));
    expect((await verifier.verify(evidence, context)).pass).toBe(true);
    expect(await verifier.verify(evidence, context)).toMatchObject({ pass: false, reasons: [AttestationReason.nonceReplayed] });
  });

  it('refuses an expired nonce', async () => {
    const { made, nonce, context } = await scenario();
    const evidence = encode(createPsaEvidence(made.security, made.identityCertificatePem, nonce, goodBoot));
    expect(await verifier.verify(evidence, { ...context, now: now + 30_000 })).toMatchObject({
      pass: false,
      reasons: [AttestationReason.nonceExpired],
    });
  });

  it('refuses a nonce issued to another device, and a nonce never issued', async () => {
    const { made, context, nonces } = await scenario();
    const { nonce: othersNonce } = await nonces.issue('f'.repeat(64), now);
    const stolen = encode(createPsaEvidence(made.security, made.identityCertificatePem, othersNonce, goodBoot));
    expect(await verifier.verify(stolen, context)).toMatchObject({ pass: false, reasons: [AttestationReason.nonceOtherDevice] });
    const invented = encode(createPsaEvidence(made.security, made.identityCertificatePem, 'A'.repeat(43), goodBoot));
    expect(await verifier.verify(invented, context)).toMatchObject({ pass: false, reasons: [AttestationReason.nonceUnknown] });
  });

  it('refuses evidence signed by another key, and does not spend the nonce for it', async () => {
    const { made, nonce, context } = await scenario();
    const thief = new SecuritySubsystem();
    const real = createPsaEvidence(made.security, made.identityCertificatePem, nonce, goodBoot);
    const forged = createPsaEvidence(thief, made.identityCertificatePem, nonce, goodBoot);
    expect(await verifier.verify(encode(forged), context)).toMatchObject({ pass: false, reasons: [AttestationReason.signatureInvalid] });
    expect((await verifier.verify(encode(real), context)).pass).toBe(true);
  });

  it('refuses a forged endorsement from a manufacturer it does not trust', async () => {
    const { nonces, context } = await scenario();
    const rogue = await CertificateAuthority.create('Rogue manufacturer');
    const fake = await manufactureDevice(rogue);
    const { nonce } = await nonces.issue(fake.security.deviceId, now);
    const evidence = encode(createPsaEvidence(fake.security, fake.identityCertificatePem, nonce, goodBoot));
    expect(await verifier.verify(evidence, context)).toMatchObject({ pass: false, reasons: [AttestationReason.endorsementInvalid] });
  });

  it("refuses a token whose instance id is another device's key, even signed by the certified one", async () => {
    const { made, nonce, context } = await scenario();
    const other = new SecuritySubsystem();
    const claims: PsaClaims = { ...psaClaimsFor(made.security, nonce, goodBoot), instanceId: instanceIdOf(other.publicKey) };
    const evidence = envelopeOf(made, signedBy(made, encodeClaims(claims)));
    expect(await verifier.verify(evidence, context)).toMatchObject({ pass: false, reasons: [AttestationReason.deviceMismatch] });
  });

  describe('token-specific attacks (RFC 9783, RFC 9052, RFC 8949), none of which spends the nonce', () => {
    type Attack = (made: ManufacturedDevice, nonce: string) => Buffer;
    const honest = (made: ManufacturedDevice, nonce: string) => encodeClaims(psaClaimsFor(made.security, nonce, goodBoot));
    const edited =
      (edit: (claims: Map<number, unknown>) => void): Attack =>
      (made, nonce) => {
        const claims = honest(made, nonce);
        edit(claims);
        return envelopeOf(made, signedBy(made, claims));
      };
    const honestToken = (made: ManufacturedDevice, nonce: string) => Buffer.from(signedBy(made, honest(made, nonce)));
    const attacks: Array<[string, Attack, string, string]> = [
      ['another profile', edited((c) => c.set(PSA_CLAIM.profile, 'http://arm.com/psa/2.0.0')), AttestationReason.claimInvalid, 'profile:'],
      [
        'no implementation id (a mandatory claim)',
        edited((c) => c.delete(PSA_CLAIM.implementationId)),
        AttestationReason.claimInvalid,
        'psa-implementation-id: is mandatory',
      ],
      ['no nonce (a mandatory claim)', edited((c) => c.delete(PSA_CLAIM.nonce)), AttestationReason.claimInvalid, 'eat_nonce: is mandatory'],
      [
        'a lifecycle in debug',
        edited((c) => c.set(PSA_CLAIM.securityLifecycle, PSA_LIFECYCLE.nonPsaRotDebug)),
        AttestationReason.lifecycleNotSecured,
        'lifecycle 0x4000',
      ],
      [
        'a decommissioned part',
        edited((c) => c.set(PSA_CLAIM.securityLifecycle, PSA_LIFECYCLE.decommissioned + 1)),
        AttestationReason.lifecycleNotSecured,
        'lifecycle 0x6001',
      ],
      [
        'a measurement type that is no boot stage',
        edited((c) => (c.get(PSA_CLAIM.softwareComponents) as Array<Map<number, unknown>>)[0]!.set(1, 'BL')),
        AttestationReason.claimInvalid,
        'psa-software-components[0].measurement-type: BL is no boot stage',
      ],
      [
        'a 48-byte (SHA-384) measurement value',
        edited((c) => (c.get(PSA_CLAIM.softwareComponents) as Array<Map<number, unknown>>)[2]!.set(2, new Uint8Array(48).fill(7))),
        AttestationReason.claimInvalid,
        'psa-software-components[2].measurement-value: must be a SHA-256',
      ],
      [
        'a 64-byte (SHA-512) measurement value',
        edited((c) => (c.get(PSA_CLAIM.softwareComponents) as Array<Map<number, unknown>>)[0]!.set(2, new Uint8Array(64).fill(7))),
        AttestationReason.claimInvalid,
        'psa-software-components[0].measurement-value: must be a SHA-256',
      ],
      [
        'a secure partition as the caller',
        edited((c) => c.set(PSA_CLAIM.clientId, 1)),
        AttestationReason.claimInvalid,
        'psa-client-id: 1 is not a non-secure caller',
      ],
      [
        'a certification reference without its +5 part',
        edited((c) => c.set(PSA_CLAIM.certificationReference, '1234567890123')),
        AttestationReason.claimInvalid,
        'psa-certification-reference:',
      ],
      [
        'duplicate map keys in the claims',
        (made, nonce) => {
          const payload = Buffer.from(encodeCbor(honest(made, nonce)));
          const again = Buffer.concat([Buffer.from(encodeCbor(PSA_CLAIM.nonce)), Buffer.from(encodeCbor(new Uint8Array(32).fill(1)))]);
          const duplicated = Buffer.concat([Buffer.from([payload[0]! + 1]), payload.subarray(1), again]);
          return envelopeOf(
            made,
            signSign1(duplicated, (tbs) => made.security.attestationSign(tbs)),
          );
        },
        AttestationReason.tokenMalformed,
        'Duplicate',
      ],
      [
        'indefinite lengths',
        (made, nonce) => {
          const token = honestToken(made, nonce);
          return envelopeOf(made, Buffer.concat([Buffer.from([0xd2, 0x9f]), token.subarray(2), Buffer.from([0xff])]));
        },
        AttestationReason.tokenMalformed,
        'Streaming',
      ],
      [
        'ES384 in the protected header',
        (made, nonce) => envelopeOf(made, signedBy(made, honest(made, nonce), new Map([[COSE_HEADER.alg, -35]]))),
        AttestationReason.algorithmUnsupported,
        'algorithm -35 is not ES256',
      ],
      [
        'HMAC in the protected header',
        (made, nonce) => envelopeOf(made, signedBy(made, honest(made, nonce), new Map([[COSE_HEADER.alg, COSE_ALG.HMAC256]]))),
        AttestationReason.algorithmUnsupported,
        'algorithm 5 is not ES256',
      ],
      [
        'a detached (nil) payload',
        (made, nonce) => {
          const token = honestToken(made, nonce);
          // d2 84 | 43 a1 01 26 | a0 | <payload> | 58 40 <signature>: the payload replaced by nil (f6).
          const detached = Buffer.concat([token.subarray(0, 7), Buffer.from([0xf6]), token.subarray(token.length - 66)]);
          return envelopeOf(made, detached);
        },
        AttestationReason.tokenMalformed,
        'detached payloads are refused',
      ],
      [
        'bytes after the token',
        (made, nonce) => envelopeOf(made, Buffer.concat([honestToken(made, nonce), Buffer.from([0x00])])),
        AttestationReason.tokenMalformed,
        'not well-formed CBOR',
      ],
      [
        'a fifth element in the COSE array',
        (made, nonce) => {
          const token = honestToken(made, nonce);
          return envelopeOf(made, Buffer.concat([Buffer.from([0xd2, 0x85]), token.subarray(2), Buffer.from([0x40])]));
        },
        AttestationReason.tokenMalformed,
        'exactly four elements',
      ],
      [
        'a token that is not CBOR',
        (made) => envelopeOf(made, Buffer.from('{"deviceId":"x"}')),
        AttestationReason.tokenMalformed,
        'not well-formed CBOR',
      ],
    ];
    it.each(attacks)('refuses %s', async (_label, attack, reason, detail) => {
      const { made, nonce, context } = await scenario();
      expect(await verifier.verify(attack(made, nonce), context)).toMatchObject({
        pass: false,
        kind: 'psa-token',
        reasons: [reason],
        detail: expect.stringContaining(detail),
      });
      // The nonce is still good for the device's honest evidence.
      expect(
        (await verifier.verify(encode(createPsaEvidence(made.security, made.identityCertificatePem, nonce, goodBoot)), context)).pass,
      ).toBe(true);
    });
  });

  it('refuses an unknown or revoked measurement, and an incomplete boot log', async () => {
    const { made, nonces, context } = await scenario();
    const tampered: BootState = {
      ...goodBoot,
      bootLog: goodBoot.bootLog.map((m) => (m.stage === 'os' ? { stage: 'os', sha256: image('patched os') } : m)),
    };
    let { nonce } = await nonces.issue(made.security.deviceId, now);
    expect(
      await verifier.verify(encode(createPsaEvidence(made.security, made.identityCertificatePem, nonce, tampered)), context),
    ).toMatchObject({
      pass: false,
      reasons: [AttestationReason.measurementUnknown],
    });
    ({ nonce } = await nonces.issue(made.security.deviceId, now));
    const revokedPolicy = policyFor(goodBoot, { revoked: measurementKey('app:thermostat', image('thermostat 1.2')) });
    expect(
      await verifier.verify(encode(createPsaEvidence(made.security, made.identityCertificatePem, nonce, goodBoot)), {
        ...context,
        policy: () => Promise.resolve(revokedPolicy),
      }),
    ).toMatchObject({ pass: false, reasons: [AttestationReason.measurementRevoked] });
    ({ nonce } = await nonces.issue(made.security.deviceId, now));
    const skipped: BootState = { ...goodBoot, bootLog: goodBoot.bootLog.filter((m) => m.stage !== 'security-monitor') };
    expect(
      await verifier.verify(encode(createPsaEvidence(made.security, made.identityCertificatePem, nonce, skipped)), context),
    ).toMatchObject({
      pass: false,
      reasons: [AttestationReason.bootLogIncomplete],
    });
  });

  it('refuses a security version below its floor, or missing', async () => {
    const { made, nonces, context } = await scenario();
    let { nonce } = await nonces.issue(made.security.deviceId, now);
    const rolledBack: BootState = { ...goodBoot, securityVersions: { bootloader: 2, os: 5 } };
    expect(
      await verifier.verify(encode(createPsaEvidence(made.security, made.identityCertificatePem, nonce, rolledBack)), context),
    ).toMatchObject({
      pass: false,
      reasons: [AttestationReason.securityVersionBelowFloor],
    });
    ({ nonce } = await nonces.issue(made.security.deviceId, now));
    const missing: BootState = { ...goodBoot, securityVersions: { os: 5 } };
    expect(
      await verifier.verify(encode(createPsaEvidence(made.security, made.identityCertificatePem, nonce, missing)), context),
    ).toMatchObject({
      pass: false,
      reasons: [AttestationReason.securityVersionBelowFloor],
    });
  });

  it('refuses a token without the private security-version claim wherever a floor is set (TF-M never sends it)', async () => {
    const { made, nonces, context } = await scenario();
    const withoutClaim = (nonce: string) => {
      const claims = encodeClaims(psaClaimsFor(made.security, nonce, goodBoot));
      claims.delete(PSA_CLAIM.rampartSecurityVersions);
      return envelopeOf(made, signedBy(made, claims));
    };
    let { nonce } = await nonces.issue(made.security.deviceId, now);
    expect(await verifier.verify(withoutClaim(nonce), context)).toMatchObject({
      pass: false,
      reasons: [AttestationReason.securityVersionBelowFloor],
    });
    // The same token passes where policy sets no floor: the claim is needed for floors, not for attestation.
    ({ nonce } = await nonces.issue(made.security.deviceId, now));
    const noFloors = { ...policyFor(goodBoot), floors: new Map<string, number>() };
    expect(await verifier.verify(withoutClaim(nonce), { ...context, policy: () => Promise.resolve(noFloors) })).toMatchObject({
      pass: true,
    });
  });

  it('bounds the refusal detail whatever the device put in the token', async () => {
    const { made, nonce, context } = await scenario();
    // A header label of 2,500 characters, twice (in crit and as a header): the token stays under its size limit.
    const label = 'x'.repeat(2_500);
    const header = new Map<unknown, unknown>([
      [COSE_HEADER.alg, COSE_ALG.ES256],
      [COSE_HEADER.crit, [label]],
      [label, 1],
    ]);
    const claims = encodeClaims(psaClaimsFor(made.security, nonce, goodBoot));
    const evidence = envelopeOf(made, signedBy(made, claims, header as Map<number, unknown>));
    const verdict = await verifier.verify(evidence, context);
    expect(verdict).toMatchObject({
      pass: false,
      reasons: [AttestationReason.algorithmUnsupported],
      detail: expect.stringContaining('xxx'),
    });
    expect(verdict.pass ? undefined : verdict.detail?.length).toBeLessThanOrEqual(MAX_DETAIL_CHARS);
  });

  it('refuses a revoked device, an unclaimed one, and one claimed by another tenant', async () => {
    for (const [state, expectedTenant, reason] of [
      [{ claimedBy: 'acme', revoked: true }, undefined, AttestationReason.deviceRevoked],
      [{ claimedBy: null, revoked: false }, undefined, AttestationReason.deviceUnclaimed],
      ['unknown', undefined, AttestationReason.deviceUnclaimed],
      [{ claimedBy: 'acme', revoked: false }, 'globex', AttestationReason.claimedByOtherTenant],
    ] as const) {
      const { made, nonce, context } = await scenario(state);
      const evidence = encode(createPsaEvidence(made.security, made.identityCertificatePem, nonce, goodBoot));
      const verdict = await verifier.verify(evidence, { ...context, ...(expectedTenant === undefined ? {} : { expectedTenant }) });
      expect(verdict).toMatchObject({ pass: false, reasons: [reason] });
    }
  });

  it('marks a refusal recoverable only when the OS alone is at fault', async () => {
    const osUnknown: BootState = {
      ...goodBoot,
      bootLog: goodBoot.bootLog.map((m) => (m.stage === 'os' ? { stage: 'os', sha256: image('os 23.9') } : m)),
    };
    const tamperedBootloader: BootState = {
      ...goodBoot,
      bootLog: goodBoot.bootLog.map((m) =>
        m.stage === 'bootloader' ? { stage: 'bootloader', sha256: image('bootloader 3 + implant') } : m,
      ),
    };
    const cases: Array<[string, BootState, AttestationPolicy, DeviceState, object | undefined]> = [
      [
        'an OS below a raised floor',
        goodBoot,
        policyFor(goodBoot, { floors: { bootloader: 3, os: 6 } }),
        { claimedBy: 'acme', revoked: false },
        { tenantId: 'acme', osSecurityVersion: 5 },
      ],
      [
        'a revoked OS',
        goodBoot,
        policyFor(goodBoot, { revoked: measurementKey('os', image('os 24.1')) }),
        { claimedBy: 'acme', revoked: false },
        { tenantId: 'acme', osSecurityVersion: 5 },
      ],
      ['an unknown OS', osUnknown, policyFor(goodBoot), { claimedBy: 'acme', revoked: false }, { tenantId: 'acme', osSecurityVersion: 5 }],
      [
        'a tampered bootloader with an OS below the floor',
        tamperedBootloader,
        policyFor(goodBoot, { floors: { os: 6 } }),
        { claimedBy: 'acme', revoked: false },
        undefined,
      ],
      [
        'a bootloader below its floor',
        goodBoot,
        policyFor(goodBoot, { floors: { bootloader: 4 } }),
        { claimedBy: 'acme', revoked: false },
        undefined,
      ],
      [
        'a revoked app beside an old OS',
        goodBoot,
        policyFor(goodBoot, { revoked: measurementKey('app:thermostat', image('thermostat 1.2')), floors: { os: 6 } }),
        { claimedBy: 'acme', revoked: false },
        undefined,
      ],
      [
        'a revoked device with an old OS',
        goodBoot,
        policyFor(goodBoot, { floors: { os: 6 } }),
        { claimedBy: 'acme', revoked: true },
        undefined,
      ],
      [
        'an unclaimed device with an old OS',
        goodBoot,
        policyFor(goodBoot, { floors: { os: 6 } }),
        { claimedBy: null, revoked: false },
        undefined,
      ],
    ];
    for (const [label, boot, policy, state, expected] of cases) {
      const os = boot.bootLog.find((m) => m.stage === 'os')!.sha256;
      const recoverable = expected === undefined ? undefined : { ...expected, osMeasurement: os };
      const { made, nonce, context } = await scenario(state);
      const verdict = await verifier.verify(encode(createPsaEvidence(made.security, made.identityCertificatePem, nonce, boot)), {
        ...context,
        policy: () => Promise.resolve(policy),
      });
      expect(verdict.pass, label).toBe(false);
      expect(verdict.pass ? undefined : verdict.recoverable, label).toEqual(recoverable);
    }
  });

  it.each([
    ['not JSON', Buffer.from('{{{')],
    ['the retired JSON evidence', Buffer.from(JSON.stringify({ evidence: 'eyJ9', signature: 'AA' }))],
    ['an unknown kind', Buffer.from(JSON.stringify({ kind: 'sgx-quote', token: 'AA', iakCertificate: 'AA' }))],
    ['a TPM quote, whose verifier is not built yet', Buffer.from(JSON.stringify({ kind: 'tpm2-quote', quote: 'AA' }))],
    [
      'a PSA envelope with an unexpected field',
      Buffer.from(JSON.stringify({ kind: 'psa-token', token: 'AA', iakCertificate: 'AA', admin: true })),
    ],
    ['a PSA envelope without its certificate', Buffer.from(JSON.stringify({ kind: 'psa-token', token: 'AA' }))],
  ])('refuses malformed input: %s', async (_label, raw) => {
    const { context } = await scenario();
    expect(await verifier.verify(raw, context)).toMatchObject({ pass: false, reasons: [AttestationReason.malformedEvidence] });
  });

  it('refuses oversized evidence before parsing it', async () => {
    const { context } = await scenario();
    const huge = Buffer.from(JSON.stringify({ kind: 'psa-token', token: 'A'.repeat(40_000), iakCertificate: 'AA' }));
    expect(await verifier.verify(huge, context)).toMatchObject({ pass: false, reasons: [AttestationReason.evidenceTooLarge] });
  });
});
