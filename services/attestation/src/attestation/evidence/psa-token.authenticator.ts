import { timingSafeEqual } from 'node:crypto';
import {
  AttestationReason,
  BootStageSchema,
  type AttestationReasonCode,
  type BootMeasurement,
  type PsaTokenEvidence,
} from '@rampart/contracts';
import { deviceIdFromSpki, instanceIdOf, lifecycleState, verifyPsaToken, type PsaTokenFault } from '@rampart/trust';
import type { AuthenticatedEvidence, AuthenticationRefusal, EvidenceAuthenticator } from './evidence-authenticator.js';
import type { ManufacturerEndorsement } from './manufacturer-endorsement.js';

const FAULT_REASONS: Record<PsaTokenFault, AttestationReasonCode> = {
  'token-malformed': AttestationReason.tokenMalformed,
  'algorithm-unsupported': AttestationReason.algorithmUnsupported,
  'signature-invalid': AttestationReason.signatureInvalid,
  'claim-invalid': AttestationReason.claimInvalid,
};

/** The ROM is the immutable PSA RoT: its measurement is the token's implementation id, not a software component. */
const ROM_STAGE = 'rom';
const APP_PREFIX = 'app:';

/**
 * PSA attestation tokens (RFC 9783). The IAK is the device key its IDevID certifies: the certificate must chain
 * to a manufacturer root, the token must verify with its key, the token's instance id must be that key's
 * (so a token cannot be presented with another device's certificate), and the lifecycle must be "secured".
 * Each software component's measurement type names its Rampart boot stage; its version is the image version;
 * the security versions come from Rampart's private claim. (RFC 9783 §4.4.1.1 lists "BL", "PRoT", "ARoT", "App"
 * and "TS" as types a token MAY use, not must: with Trusted Firmware-M and MCUboot the type is set when an image
 * is signed, in its boot record, so a device maker names its stages bootloader, security-monitor, os and
 * app:<name> there.)
 */
export class PsaTokenAuthenticator implements EvidenceAuthenticator<'psa-token'> {
  readonly kind = 'psa-token' as const;

  constructor(private readonly endorsement: ManufacturerEndorsement) {}

  authenticate(envelope: PsaTokenEvidence, now: number): AuthenticatedEvidence | AuthenticationRefusal {
    const endorsed = this.endorsement.check(Buffer.from(envelope.iakCertificate, 'base64url'), now);
    if ('reason' in endorsed) return endorsed;
    const deviceId = deviceIdFromSpki(endorsed.spki);
    const check = verifyPsaToken(Buffer.from(envelope.token, 'base64url'), endorsed.certificate.publicKey);
    if (!check.ok) return { reason: FAULT_REASONS[check.fault], deviceId, detail: check.detail };
    const { claims } = check;
    if (!timingSafeEqualBytes(claims.instanceId, instanceIdOf(endorsed.certificate.publicKey))) {
      return { reason: AttestationReason.deviceMismatch, deviceId, detail: 'the instance id is not the certified key' };
    }
    if (lifecycleState(claims.securityLifecycle) !== 'secured') {
      return { reason: AttestationReason.lifecycleNotSecured, deviceId, detail: `lifecycle 0x${claims.securityLifecycle.toString(16)}` };
    }
    const bootLog: BootMeasurement[] = [{ stage: ROM_STAGE, sha256: Buffer.from(claims.implementationId).toString('hex') }];
    const apps: Record<string, string> = {};
    let os = '';
    for (const component of claims.softwareComponents) {
      const stage = BootStageSchema.safeParse(component.measurementType);
      if (!stage.success || stage.data === ROM_STAGE) {
        return {
          reason: AttestationReason.claimInvalid,
          deviceId,
          detail: `measurement type ${String(component.measurementType)} is no boot stage`,
        };
      }
      bootLog.push({ stage: stage.data, sha256: Buffer.from(component.measurementValue).toString('hex') });
      if (stage.data === 'os') os = component.version ?? '';
      else if (stage.data.startsWith(APP_PREFIX)) apps[stage.data.slice(APP_PREFIX.length)] = component.version ?? '';
    }
    return {
      kind: this.kind,
      deviceId,
      nonce: Buffer.from(claims.nonce).toString('base64url'),
      bootLog,
      securityVersions: claims.securityVersions ?? {},
      versions: { os, apps },
      devicePublicKeySpki: endorsed.spki,
    };
  }
}

function timingSafeEqualBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
