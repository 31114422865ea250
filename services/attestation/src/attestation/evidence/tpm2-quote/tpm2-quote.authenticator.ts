import {
  AttestationReason,
  FIXED_BOOT_STAGES,
  NONCE_BYTES,
  TPM2_QUOTE_KIND,
  type AttestationReasonCode,
  type Tpm2QuoteEvidence,
} from '@rampart/contracts';
import { HW_TYPE_TPM2, deviceIdFromSpki, hardwareModuleNamesOf, parseQuote, verifyQuote, type QuoteFault } from '@rampart/trust';
import type { AuthenticatedEvidence, AuthenticationRefusal, EvidenceAuthenticator } from '../evidence-authenticator.js';
import type { ManufacturerEndorsement } from '../manufacturer-endorsement.js';
import type { TpmVendorEndorsement } from '../tpm-vendor-endorsement.js';
import type { ChallengeSeal } from './challenge-seal.js';
import { challengeBinding, checkTpm, fromBase64url as b64, type CheckedTpm } from './tpm-check.js';

/**
 * The `tpm2-quote` evidence kind (see `@rampart/contracts` tpm2-quote.ts). Stateless: the nonce travels inside
 * MakeCredential to the TPM and, sealed, back to the platform with the evidence. Checks, in order — each refusal
 * with its own reason: the EK certificate chains to a trusted TPM vendor root and is for the EK presented
 * (EK_UNTRUSTED, TpmVendorEndorsement); the AK is a restricted signing key fixed to its TPM (AK_INVALID); the IDevID chains to a
 * manufacturer root (ENDORSEMENT_INVALID) and names this TPM (TPM_MISMATCH); the challenge is ours for this device,
 * EK and AK, the quote is a TPM-made quote signed by the AK (QUOTE_INVALID) and carries the credential's nonce
 * (AK_NOT_BOUND: only the TPM holding the EK, with the AK loaded, could have learnt it); the event log replays to
 * the quoted PCRs (EVENT_LOG_INVALID). Nonce spending and policy stay shared (EvidenceVerifier).
 */
export class Tpm2QuoteAuthenticator implements EvidenceAuthenticator<typeof TPM2_QUOTE_KIND> {
  readonly kind = TPM2_QUOTE_KIND;

  constructor(
    private readonly vendors: TpmVendorEndorsement,
    private readonly manufacturer: ManufacturerEndorsement,
    private readonly seal: ChallengeSeal,
  ) {}

  authenticate(envelope: Tpm2QuoteEvidence, now: number): AuthenticatedEvidence | AuthenticationRefusal {
    const tpm = checkTpm(this.vendors, envelope, now);
    if ('reason' in tpm) return tpm;
    const identity = this.checkIdevid(b64(envelope.idevid), tpm, now);
    if ('reason' in identity) return identity;
    const { deviceId } = identity;
    const nonce = this.seal.open(b64(envelope.challenge), challengeBinding(deviceId, tpm));
    if (nonce === undefined || nonce.length !== NONCE_BYTES)
      return { reason: AttestationReason.akNotBound, deviceId, detail: 'the challenge was not issued to this device, EK and AK' };
    const verified = verifyQuote(
      {
        akPublic: b64(envelope.akPublic),
        quote: b64(envelope.quote),
        signature: b64(envelope.signature),
        eventLog: b64(envelope.eventLog),
      },
      nonce,
    );
    if ('fault' in verified) {
      if (verified.fault !== 'extra-data-mismatch') return { reason: reasonOf(verified), deviceId, detail: verified.detail };
      const answeredNonce = parseQuote(b64(envelope.quote)).extraData.toString('base64url');
      return { reason: AttestationReason.akNotBound, deviceId, detail: verified.detail, answeredNonce };
    }
    const bootLog = verified.stages.map(({ stage, sha256 }) => ({ stage, sha256 }));
    const securityVersions: Record<string, number> = {};
    const apps: Record<string, string> = {};
    let os = '';
    for (const { stage, version, securityVersion } of verified.stages) {
      // The ROM is immutable: measured, never versioned against a floor (as the MCU reports it).
      if (stage !== FIXED_BOOT_STAGES[0]) securityVersions[stage] = securityVersion;
      if (stage === 'os') os = version;
      if (stage.startsWith('app:')) apps[stage.slice('app:'.length)] = version;
    }
    return {
      kind: TPM2_QUOTE_KIND,
      deviceId,
      nonce: nonce.toString('base64url'),
      bootLog,
      securityVersions,
      versions: { os, apps },
      devicePublicKeySpki: identity.spki,
    };
  }

  /** The IDevID: from a manufacturer, in date, for client auth, an end entity (ManufacturerEndorsement); naming this TPM. */
  private checkIdevid(der: Buffer, tpm: CheckedTpm, now: number): { deviceId: string; spki: Buffer } | AuthenticationRefusal {
    const endorsed = this.manufacturer.check(der, now);
    if ('reason' in endorsed) return endorsed;
    const deviceId = deviceIdFromSpki(endorsed.spki);
    let modules;
    try {
      modules = hardwareModuleNamesOf(endorsed.certificate);
    } catch {
      return { reason: AttestationReason.tpmMismatch, deviceId, detail: 'IDevID subjectAltName does not parse' };
    }
    if (!modules.some((m) => m.hwType === HW_TYPE_TPM2 && m.serial.equals(tpm.ekSerial)))
      return { reason: AttestationReason.tpmMismatch, deviceId, detail: 'the IDevID names another TPM, or none' };
    return { deviceId, spki: endorsed.spki };
  }
}

function reasonOf(fault: QuoteFault): AttestationReasonCode {
  switch (fault.fault) {
    case 'ak-malformed':
    case 'ak-attributes':
      return AttestationReason.akInvalid;
    case 'quote-malformed':
    case 'signature-invalid':
    case 'signer-mismatch':
      return AttestationReason.quoteInvalid;
    case 'extra-data-mismatch':
      return AttestationReason.akNotBound;
    case 'event-log-invalid':
    case 'pcr-digest-mismatch':
      return AttestationReason.eventLogInvalid;
  }
}
