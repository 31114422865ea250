import { X509Certificate } from 'node:crypto';
import { CertificateAuthority, PSA_LIFECYCLE, PSA_PROFILE, instanceIdOf, keyIdOf, verifyPsaToken } from '@rampart/trust';
import { describe, expect, it } from 'vitest';
import { demoFirmware, flashFirmware } from '../firmware/firmware.js';
import { Flash } from './flash.js';
import { Fuses } from './fuses.js';
import { ROM_MEASUREMENT, secureBoot } from './secure-boot.js';
import { SecuritySubsystem } from './security-subsystem.js';
import { MemoryStateStore } from './state-store.js';
import { NSPE_CLIENT_ID, certificateForEnvelope, createPsaEvidence } from './attestation-evidence.js';
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
    expect(PSA_PROFILE).toBe('tag:psacertified.org,2023:psa#tfm');
  });

  it('sends a boot seed that differs from one power-on to the next', () => {
    const store = new MemoryStateStore();
    const first = new SecuritySubsystem(store);
    const again = new SecuritySubsystem(store);
    expect(again.deviceId).toBe(first.deviceId);
    expect(again.bootSeed).not.toEqual(first.bootSeed);
  });
});
