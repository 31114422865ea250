import { X509Certificate } from 'node:crypto';
import { AttestationReason, type SignedEvidence } from '@rampart/contracts';
import { SecuritySubsystem, createSignedEvidence, manufactureDevice, measure, type BootState } from '@rampart/emulator';
import { CertificateAuthority, OperationalCertificateIssuer } from '@rampart/trust';
import { beforeAll, describe, expect, it } from 'vitest';
import { EvidenceVerifier, measurementKey, type AttestationPolicy, type DeviceState } from './evidence-verifier.js';
import { InMemorySpentNonces, SealedNonceStore } from './nonce-store.js';

const image = (name: string) => measure(Buffer.from(`image ${name}`));
const goodBoot: BootState = {
  bootLog: [
    { stage: 'rom', sha256: image('rom 1') },
    { stage: 'bootloader', sha256: image('bootloader 3') },
    { stage: 'security-monitor', sha256: image('monitor 7') },
    { stage: 'os', sha256: image('os 24.1') },
    { stage: 'app:thermostat', sha256: image('thermostat 1.2') },
  ],
  securityVersions: { bootloader: 3, os: 5 },
  versions: { os: '24.1', apps: { thermostat: '1.2' } },
};

function policyFor(boot: BootState, overrides: Partial<{ revoked: string; floors: Record<string, number> }> = {}): AttestationPolicy {
  const measurements = new Map<string, 'released' | 'revoked'>(boot.bootLog.map((m) => [measurementKey(m.stage, m.sha256), 'released']));
  if (overrides.revoked !== undefined) measurements.set(overrides.revoked, 'revoked');
  return { measurements, floors: new Map(Object.entries(overrides.floors ?? { bootloader: 3, os: 4 })) };
}

const encode = (signed: SignedEvidence) => Buffer.from(JSON.stringify(signed));

describe(EvidenceVerifier.name, () => {
  let manufacturer: CertificateAuthority;
  let verifier: EvidenceVerifier;
  const now = Date.now();

  beforeAll(async () => {
    manufacturer = await CertificateAuthority.create('Test manufacturer');
    verifier = new EvidenceVerifier([manufacturer.certificatePem]);
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
    const verdict = await verifier.verify(
      encode(createSignedEvidence(made.security, made.identityCertificatePem, nonce, goodBoot)),
      context,
    );
    expect(verdict).toMatchObject({ pass: true, tenantId: 'acme' });
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
        subjectPublicKeySpki: verdict.devicePublicKeySpki,
        notBefore: new Date(now),
        notAfter: new Date(now + 86_400_000),
      }),
    );
    expect(cert.publicKey.equals(made.security.publicKey)).toBe(true);
  });

  it('refuses a replayed nonce', async () => {
    const { made, nonce, context } = await scenario();
    const evidence = encode(createSignedEvidence(made.security, made.identityCertificatePem, nonce, goodBoot));
    expect((await verifier.verify(evidence, context)).pass).toBe(true);
    expect(await verifier.verify(evidence, context)).toMatchObject({ pass: false, reasons: [AttestationReason.nonceReplayed] });
  });

  it('refuses an expired nonce', async () => {
    const { made, nonce, context } = await scenario();
    const evidence = encode(createSignedEvidence(made.security, made.identityCertificatePem, nonce, goodBoot));
    expect(await verifier.verify(evidence, { ...context, now: now + 30_000 })).toMatchObject({
      pass: false,
      reasons: [AttestationReason.nonceExpired],
    });
  });

  it('refuses a nonce issued to another device, and a nonce never issued', async () => {
    const { made, context, nonces } = await scenario();
    const { nonce: othersNonce } = await nonces.issue('f'.repeat(64), now);
    const stolen = encode(createSignedEvidence(made.security, made.identityCertificatePem, othersNonce, goodBoot));
    expect(await verifier.verify(stolen, context)).toMatchObject({ pass: false, reasons: [AttestationReason.nonceOtherDevice] });
    const invented = encode(createSignedEvidence(made.security, made.identityCertificatePem, 'A'.repeat(43), goodBoot));
    expect(await verifier.verify(invented, context)).toMatchObject({ pass: false, reasons: [AttestationReason.nonceUnknown] });
  });

  it('refuses evidence signed by another key, and does not spend the nonce for it', async () => {
    const { made, nonce, context } = await scenario();
    const thief = new SecuritySubsystem();
    const real = createSignedEvidence(made.security, made.identityCertificatePem, nonce, goodBoot);
    const forged = { evidence: real.evidence, signature: thief.sign(Buffer.from(real.evidence, 'base64url')).toString('base64url') };
    expect(await verifier.verify(encode(forged), context)).toMatchObject({ pass: false, reasons: [AttestationReason.signatureInvalid] });
    expect((await verifier.verify(encode(real), context)).pass).toBe(true);
  });

  it('refuses a forged endorsement from a manufacturer it does not trust', async () => {
    const { nonces, context } = await scenario();
    const rogue = await CertificateAuthority.create('Rogue manufacturer');
    const fake = await manufactureDevice(rogue);
    const { nonce } = await nonces.issue(fake.security.deviceId, now);
    const evidence = encode(createSignedEvidence(fake.security, fake.identityCertificatePem, nonce, goodBoot));
    expect(await verifier.verify(evidence, context)).toMatchObject({ pass: false, reasons: [AttestationReason.endorsementInvalid] });
  });

  it("refuses a genuine endorsement presented with another device's key", async () => {
    const { made, nonce, context } = await scenario();
    const impostor = new SecuritySubsystem();
    const evidence = encode(createSignedEvidence(impostor, made.identityCertificatePem, nonce, goodBoot));
    expect(await verifier.verify(evidence, context)).toMatchObject({ pass: false, reasons: [AttestationReason.deviceMismatch] });
  });

  it('refuses an unknown or revoked measurement, and an incomplete boot log', async () => {
    const { made, nonces, context } = await scenario();
    const tampered: BootState = {
      ...goodBoot,
      bootLog: goodBoot.bootLog.map((m) => (m.stage === 'os' ? { stage: 'os', sha256: image('patched os') } : m)),
    };
    let { nonce } = await nonces.issue(made.security.deviceId, now);
    expect(
      await verifier.verify(encode(createSignedEvidence(made.security, made.identityCertificatePem, nonce, tampered)), context),
    ).toMatchObject({
      pass: false,
      reasons: [AttestationReason.measurementUnknown],
    });
    ({ nonce } = await nonces.issue(made.security.deviceId, now));
    const revokedPolicy = policyFor(goodBoot, { revoked: measurementKey('app:thermostat', image('thermostat 1.2')) });
    expect(
      await verifier.verify(encode(createSignedEvidence(made.security, made.identityCertificatePem, nonce, goodBoot)), {
        ...context,
        policy: () => Promise.resolve(revokedPolicy),
      }),
    ).toMatchObject({ pass: false, reasons: [AttestationReason.measurementRevoked] });
    ({ nonce } = await nonces.issue(made.security.deviceId, now));
    const skipped: BootState = { ...goodBoot, bootLog: goodBoot.bootLog.filter((m) => m.stage !== 'security-monitor') };
    expect(
      await verifier.verify(encode(createSignedEvidence(made.security, made.identityCertificatePem, nonce, skipped)), context),
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
      await verifier.verify(encode(createSignedEvidence(made.security, made.identityCertificatePem, nonce, rolledBack)), context),
    ).toMatchObject({
      pass: false,
      reasons: [AttestationReason.securityVersionBelowFloor],
    });
    ({ nonce } = await nonces.issue(made.security.deviceId, now));
    const missing: BootState = { ...goodBoot, securityVersions: { os: 5 } };
    expect(
      await verifier.verify(encode(createSignedEvidence(made.security, made.identityCertificatePem, nonce, missing)), context),
    ).toMatchObject({
      pass: false,
      reasons: [AttestationReason.securityVersionBelowFloor],
    });
  });

  it('refuses a revoked device, an unclaimed one, and one claimed by another tenant', async () => {
    for (const [state, expectedTenant, reason] of [
      [{ claimedBy: 'acme', revoked: true }, undefined, AttestationReason.deviceRevoked],
      [{ claimedBy: null, revoked: false }, undefined, AttestationReason.deviceUnclaimed],
      ['unknown', undefined, AttestationReason.deviceUnclaimed],
      [{ claimedBy: 'acme', revoked: false }, 'globex', AttestationReason.claimedByOtherTenant],
    ] as const) {
      const { made, nonce, context } = await scenario(state);
      const evidence = encode(createSignedEvidence(made.security, made.identityCertificatePem, nonce, goodBoot));
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
      const verdict = await verifier.verify(encode(createSignedEvidence(made.security, made.identityCertificatePem, nonce, boot)), {
        ...context,
        policy: () => Promise.resolve(policy),
      });
      expect(verdict.pass, label).toBe(false);
      expect(verdict.pass ? undefined : verdict.recoverable, label).toEqual(recoverable);
    }
  });

  it.each([
    ['not JSON', Buffer.from('{{{')],
    ['a wrong envelope', Buffer.from(JSON.stringify({ evidence: 'x', signature: 'y', extra: 1 }))],
    ['evidence that is not JSON', Buffer.from(JSON.stringify({ evidence: Buffer.from('nope').toString('base64url'), signature: 'AA' }))],
    [
      'evidence with an unexpected field',
      Buffer.from(
        JSON.stringify({ evidence: Buffer.from(JSON.stringify({ deviceId: 'x', admin: true })).toString('base64url'), signature: 'AA' }),
      ),
    ],
  ])('refuses malformed input: %s', async (_label, raw) => {
    const { context } = await scenario();
    expect(await verifier.verify(raw, context)).toMatchObject({ pass: false, reasons: [AttestationReason.malformedEvidence] });
  });

  it('refuses oversized evidence before parsing it', async () => {
    const { context } = await scenario();
    const huge = Buffer.from(JSON.stringify({ evidence: 'A'.repeat(40_000), signature: 'AA' }));
    expect(await verifier.verify(huge, context)).toMatchObject({ pass: false, reasons: [AttestationReason.evidenceTooLarge] });
  });
});
