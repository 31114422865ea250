import { timingSafeEqual } from 'node:crypto';
import { AttestationReason, type AttestationReasonCode, type PsaTokenEvidence } from '@rampart/contracts';
import { bootLogOfPsaClaims, deviceIdFromSpki, instanceIdOf, lifecycleState, verifyPsaToken, type PsaTokenFault } from '@rampart/trust';
import type { AuthenticatedEvidence, AuthenticationRefusal, EvidenceAuthenticator } from './evidence-authenticator.js';
import type { ManufacturerEndorsement } from './manufacturer-endorsement.js';

const FAULT_REASONS: Record<PsaTokenFault, AttestationReasonCode> = {
  'token-malformed': AttestationReason.tokenMalformed,
  'algorithm-unsupported': AttestationReason.algorithmUnsupported,
  'signature-invalid': AttestationReason.signatureInvalid,
  'claim-invalid': AttestationReason.claimInvalid,
};

/**
 * The caller Rampart expects in `psa-client-id` (RFC 9783 has a verifier check it against the caller it expects).
 * The token is requested by the non-secure OS, which sends it to the platform, so the caller is in the NSPE: a
 * negative id (positive ids are secure partitions, 0 is invalid: RFC 9783, psa-client-id). Any negative id, not one value: with Trusted Firmware-M's non-secure client
 * identification a device maker's OS may use several (the emulator's OS is -1, TF-M's default without it). A
 * positive id is a secure partition asking for a token for itself, which no part of Rampart's flow does.
 */
export function isExpectedCaller(clientId: number): boolean {
  return clientId < 0;
}

/**
 * PSA attestation tokens (RFC 9783). The IAK is the device key its IDevID certifies: the certificate must chain
 * to a manufacturer root, the token must verify with its key, the token's instance id must be that key's
 * (so a token cannot be presented with another device's certificate), the caller must be the non-secure OS, and
 * the lifecycle must be "secured". The claims are read back as a boot log by `bootLogOfPsaClaims` (one mapping,
 * shared with the device side): each software component's measurement type names its Rampart boot stage, its
 * measurement a SHA-256, its version the image version; the security versions come from Rampart's private claim.
 * (RFC 9783 §4.4.1.1 lists "BL", "PRoT", "ARoT", "App" and "TS" as types a token MAY use, not must: with Trusted
 * Firmware-M and MCUboot the type is set when an image is signed, in its boot record, so a device maker names its
 * stages bootloader, security-monitor, os and app:<name> there.)
 *
 * Signer ids are deliberately not compared with anything. The platform learns of a released image only its stage,
 * measurement and version (`ImageEvent`), not its signing key, and the measurement already pins the image: a
 * known-good measurement is the hash of an image the updates service released after verifying its signature, so
 * an image signed by another key has another measurement and is refused as MEASUREMENT_UNKNOWN. A signer id check
 * would add nothing until policy names keys rather than images.
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
    if (!isExpectedCaller(claims.clientId)) {
      return { reason: AttestationReason.claimInvalid, deviceId, detail: `psa-client-id: ${claims.clientId} is not a non-secure caller` };
    }
    if (lifecycleState(claims.securityLifecycle) !== 'secured') {
      return { reason: AttestationReason.lifecycleNotSecured, deviceId, detail: `lifecycle 0x${claims.securityLifecycle.toString(16)}` };
    }
    const boot = bootLogOfPsaClaims(claims.implementationId, claims.softwareComponents);
    if (!boot.ok) return { reason: AttestationReason.claimInvalid, deviceId, detail: boot.detail };
    return {
      kind: this.kind,
      deviceId,
      nonce: Buffer.from(claims.nonce).toString('base64url'),
      bootLog: boot.bootLog,
      // No private claim, no counters: every floor then refuses (see PSA_CLAIM.rampartSecurityVersions).
      securityVersions: claims.securityVersions ?? {},
      versions: boot.versions,
      devicePublicKeySpki: endorsed.spki,
    };
  }
}

function timingSafeEqualBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
