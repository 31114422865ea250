import { X509Certificate, verify as cryptoVerify } from 'node:crypto';
import { decode, type Tag } from 'cbor2';
import {
  CertificateAuthority,
  PSA_CLAIM,
  PSA_LIFECYCLE,
  PSA_PROFILE,
  PsaBootStateError,
  createPsaToken,
  instanceIdOf,
  keyIdOf,
  verifyAppSignature,
  verifyPsaToken,
} from '@rampart/trust';
import { describe, expect, it } from 'vitest';
import { demoFirmware, flashFirmware } from '../firmware/firmware.js';
import { Flash } from './flash.js';
import { Fuses } from './fuses.js';
import { ROM_MEASUREMENT, secureBoot } from './secure-boot.js';
import { SecuritySubsystem } from './security-subsystem.js';
import { MemoryStateStore } from './state-store.js';
import { NSPE_CLIENT_ID, certificateForEnvelope, createPsaEvidence, psaClaimsFor, type BootState } from './attestation-evidence.js';
import { demoBootState } from '../factory/demo-images.js';
import { manufactureDevice } from '../factory/manufacture.js';

describe(createPsaEvidence.name, () => {
  it('emits an RFC 9783 token for what secure boot measured, signed with the device key, beside its IDevID', async () => {
    const manufacturer = await CertificateAuthority.create('Test manufacturer');
    const made = await manufactureDevice(manufacturer);
    const firmware = demoFirmware();
    const store = new MemoryStateStore();
    const fuses = new Fuses(store);
    const flash = new Flash(store);
    flashFirmware(fuses, flash, firmware);
    const boot = secureBoot(flash, fuses);
    const nonce = Buffer.alloc(32, 0x42).toString('base64url');

    const evidence = createPsaEvidence(made.security, made.identityCertificatePem, nonce, boot);
    expect(evidence.kind).toBe('psa-token');
    expect(evidence.iakCertificate).toBe(certificateForEnvelope(made.identityCertificatePem));
    const check = verifyPsaToken(Buffer.from(evidence.token, 'base64url'), new X509Certificate(made.identityCertificatePem).publicKey);
    if (!check.ok) throw new Error(`${check.fault}: ${check.detail}`);
    const { claims } = check;
    expect(Buffer.from(claims.nonce).toString('base64url')).toBe(nonce);
    expect(claims.instanceId).toEqual(instanceIdOf(made.security.publicKey));
    expect(Buffer.from(claims.implementationId).toString('hex')).toBe(ROM_MEASUREMENT);
    expect(claims).toMatchObject({ clientId: NSPE_CLIENT_ID, securityLifecycle: PSA_LIFECYCLE.secured });
    const platformSigner = keyIdOf(firmware.bootloader.signerSpki);
    const appSigner = keyIdOf(firmware.apps[0]!.signerSpki);
    expect(
      claims.softwareComponents.map((c) => [
        c.measurementType,
        Buffer.from(c.measurementValue).toString('hex'),
        c.version,
        Buffer.from(c.signerId).toString('hex'),
      ]),
    ).toEqual([
      ['bootloader', boot.bootLog[1]!.sha256, undefined, platformSigner],
      ['security-monitor', boot.bootLog[2]!.sha256, undefined, platformSigner],
      ['os', boot.bootLog[3]!.sha256, firmware.os.manifest.version, platformSigner],
      ['app:sensor', boot.bootLog[4]!.sha256, firmware.apps[0]!.manifest.version, appSigner],
    ]);
    expect(claims.securityVersions).toEqual(boot.securityVersions);
    expect(Buffer.from(claims.bootSeed!)).toEqual(made.security.bootSeed);
    // What the token itself says, read with a plain decoder: the 2023 profile and this power-on's boot seed.
    const payload = decode<Tag>(Buffer.from(evidence.token, 'base64url')).contents as unknown[];
    const raw = decode<Map<number, unknown>>(payload[2] as Uint8Array);
    expect(raw.get(PSA_CLAIM.profile)).toBe(PSA_PROFILE);
    expect(raw.get(PSA_CLAIM.profile)).toBe('tag:psacertified.org,2023:psa#tfm');
    expect(Buffer.from(raw.get(PSA_CLAIM.bootSeed) as Uint8Array)).toEqual(made.security.bootSeed);
  });

  it('refuses to write a token for a boot state without the ROM or a stage signer, rather than claim zeros', async () => {
    const made = await manufactureDevice(await CertificateAuthority.create('Test manufacturer'));
    const store = new MemoryStateStore();
    const fuses = new Fuses(store);
    const flash = new Flash(store);
    flashFirmware(fuses, flash, demoFirmware());
    const boot = secureBoot(flash, fuses);
    const nonce = Buffer.alloc(32, 1).toString('base64url');
    expect(psaClaimsFor(made.security, nonce, boot).softwareComponents).toHaveLength(boot.bootLog.length - 1);
    const noRom: BootState = { ...boot, bootLog: boot.bootLog.filter((m) => m.stage !== 'rom') };
    expect(() => psaClaimsFor(made.security, nonce, noRom)).toThrow(PsaBootStateError);
    const { os: _os, ...signers } = boot.signers;
    expect(() => psaClaimsFor(made.security, nonce, { ...boot, signers })).toThrow(/stage os has no signer/);
  });
});

describe(SecuritySubsystem.name, () => {
  it("draws each power-on's boot seed from its injected entropy source", () => {
    const store = new MemoryStateStore();
    let counter = 0;
    const randomBytes = (size: number) => Buffer.alloc(size, ++counter);
    const first = new SecuritySubsystem(store, { randomBytes });
    const again = new SecuritySubsystem(store, { randomBytes });
    expect(again.deviceId).toBe(first.deviceId);
    expect(first.bootSeed).toEqual(Buffer.alloc(32, 1));
    // The second power-on draws a new seed; the hardware-unique key was drawn once, at the first.
    expect(again.bootSeed).toEqual(Buffer.alloc(32, 3));
  });

  it('sends a boot seed that differs from one power-on to the next by default', () => {
    const store = new MemoryStateStore();
    expect(new SecuritySubsystem(store).bootSeed).not.toEqual(new SecuritySubsystem(store).bootSeed);
  });

  it('signs for an app only under the app context, so an app cannot get a valid attestation token signed', async () => {
    const made = await manufactureDevice(await CertificateAuthority.create('Test manufacturer'));
    const publicKey = new X509Certificate(made.identityCertificatePem).publicKey;
    const claims = psaClaimsFor(made.security, Buffer.alloc(32, 5).toString('base64url'), demoBootState());
    // An app with the device-auth capability asks for exactly the bytes a token's signature covers.
    let toBeSigned: Uint8Array | undefined;
    const honest = createPsaToken(claims, (tbs) => {
      toBeSigned = tbs;
      return made.security.attestationSign(tbs);
    });
    expect(verifyPsaToken(honest, publicKey).ok).toBe(true);
    const appSignature = made.security.appSign(toBeSigned!);
    // What it gets back is a valid signature, but over the app context and those bytes: over the bytes alone (in any
    // encoding: r and s are the same numbers) it does not verify, so no token can carry it.
    expect(verifyAppSignature(publicKey, toBeSigned!, appSignature)).toBe(true);
    expect(cryptoVerify('sha256', toBeSigned!, publicKey, appSignature)).toBe(false);
    expect(verifyAppSignature(publicKey, Buffer.from('other data'), appSignature)).toBe(false);
  });
});
