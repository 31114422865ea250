import { X509Certificate } from 'node:crypto';
import {
  AttestationReason,
  FIXED_BOOT_STAGES,
  NONCE_BYTES,
  TPM2_QUOTE_KIND,
  type AttestationReasonCode,
  type Tpm2AttestRequest,
  type Tpm2CredentialChallenge,
  type Tpm2QuoteEvidence,
} from '@rampart/contracts';
import {
  HW_TYPE_TPM2,
  TpmaObject,
  checkAttestationKey,
  deviceIdFromSpki,
  hardwareModuleNamesOf,
  makeCredential,
  objectName,
  parseQuote,
  parseTpm2bPublic,
  publicKeyOf,
  spkiOf,
  tpmSerialOf,
  verifyQuote,
  type QuoteFault,
  type TpmPublic,
} from '@rampart/trust';
import type { AuthenticatedEvidence, AuthenticationRefusal, EvidenceAuthenticator } from '../evidence-authenticator.js';
import type { ManufacturerEndorsement } from '../manufacturer-endorsement.js';
import type { ChallengeSeal } from './challenge-seal.js';
/** TCG EK Credential Profile §3.2.16: the EK certificate's extended key usage, tcg-kp-EKCertificate. */
const TCG_KP_EK_CERTIFICATE = '2.23.133.8.1';

/** A refusal of a TPM quote: always with what was wrong, for the log. */
export type TpmRefusal = AuthenticationRefusal & { readonly detail: string };

interface CheckedTpm {
  readonly ek: TpmPublic;
  readonly ekSerial: Buffer;
  readonly ak: TpmPublic;
  readonly akName: Buffer;
}

const b64 = (value: string) => Buffer.from(value, 'base64url');

/**
 * The `tpm2-quote` evidence kind (see `@rampart/contracts` tpm2-quote.ts). Stateless: the nonce travels inside
 * MakeCredential to the TPM and, sealed, back to the platform with the evidence. Checks, in order — each refusal
 * with its own reason: the EK certificate chains to a trusted TPM vendor root and is for the EK presented
 * (EK_UNTRUSTED); the AK is a restricted signing key fixed to its TPM (AK_INVALID); the IDevID chains to a
 * manufacturer root (ENDORSEMENT_INVALID) and names this TPM (TPM_MISMATCH); the challenge is ours for this device,
 * EK and AK, the quote is a TPM-made quote signed by the AK (QUOTE_INVALID) and carries the credential's nonce
 * (AK_NOT_BOUND: only the TPM holding the EK, with the AK loaded, could have learnt it); the event log replays to
 * the quoted PCRs (EVENT_LOG_INVALID). Nonce spending and policy stay shared (EvidenceVerifier).
 */
export class Tpm2QuoteAuthenticator implements EvidenceAuthenticator<typeof TPM2_QUOTE_KIND> {
  readonly kind = TPM2_QUOTE_KIND;
  private readonly vendorRoots: readonly X509Certificate[];

  constructor(
    vendorRootsPem: readonly string[],
    private readonly manufacturer: ManufacturerEndorsement,
    private readonly seal: ChallengeSeal,
  ) {
    this.vendorRoots = vendorRootsPem.map((pem) => new X509Certificate(pem));
  }

  /** The first message's checks: a trusted EK and a proper AK. */
  checkTpm(request: Pick<Tpm2AttestRequest, 'ekCertificate' | 'ekPublic' | 'akPublic'>, now: number): CheckedTpm | TpmRefusal {
    let ek: TpmPublic;
    try {
      ek = parseTpm2bPublic(b64(request.ekPublic));
    } catch (error) {
      return { reason: AttestationReason.ekUntrusted, detail: `EK public: ${String(error)}` };
    }
    const ekFault = this.checkEkCertificate(b64(request.ekCertificate), ek, now);
    if (ekFault !== undefined) return { reason: AttestationReason.ekUntrusted, detail: ekFault };
    const ak = checkAttestationKey(b64(request.akPublic));
    if ('fault' in ak) return { reason: AttestationReason.akInvalid, detail: ak.detail };
    return { ek, ekSerial: tpmSerialOf(publicKeyOf(ek)), ak, akName: objectName(ak) };
  }

  /** The answer to a checked request: `nonce` (base64url, from the nonce store) inside MakeCredential, and sealed for us. */
  challenge(deviceId: string, tpm: CheckedTpm, nonce: string, expiresAt: number): Tpm2CredentialChallenge {
    const nonceBytes = b64(nonce);
    const made = makeCredential(tpm.ek, tpm.akName, nonceBytes);
    return {
      idObject: made.idObject.toString('base64url'),
      encryptedSecret: made.encryptedSecret.toString('base64url'),
      challenge: this.seal.seal(nonceBytes, binding(deviceId, tpm)).toString('base64url'),
      expiresAt,
    };
  }

  authenticate(envelope: Tpm2QuoteEvidence, now: number): AuthenticatedEvidence | AuthenticationRefusal {
    const tpm = this.checkTpm(envelope, now);
    if ('reason' in tpm) return tpm;
    const identity = this.checkIdevid(b64(envelope.idevid), tpm, now);
    if ('reason' in identity) return identity;
    const { deviceId } = identity;
    const nonce = this.seal.open(b64(envelope.challenge), binding(deviceId, tpm));
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

  /** The EK certificate: from a trusted vendor, in date, an EK certificate, for this EK; an EK that is a restricted decryption key. */
  private checkEkCertificate(der: Buffer, ek: TpmPublic, now: number): string | undefined {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(der);
    } catch {
      return 'EK certificate does not parse';
    }
    if (!this.vendorRoots.some((root) => certificate.checkIssued(root) && certificate.verify(root.publicKey)))
      return `EK certificate issuer "${certificate.issuer}" is not a trusted TPM vendor`;
    if (!(new Date(certificate.validFrom).getTime() <= now && now <= new Date(certificate.validTo).getTime()))
      return 'EK certificate out of date';
    if (certificate.ca) return 'EK certificate is a CA';
    const usages = certificate.keyUsage;
    if (usages !== undefined && !usages.includes(TCG_KP_EK_CERTIFICATE)) return 'EK certificate lacks tcg-kp-EKCertificate';
    let ekKey;
    try {
      ekKey = publicKeyOf(ek);
    } catch (error) {
      return `EK public: ${String(error)}`;
    }
    if (!spkiOf(certificate.publicKey).equals(spkiOf(ekKey))) return 'the EK certificate is for another key';
    const required = TpmaObject.fixedTPM | TpmaObject.fixedParent | TpmaObject.restricted | TpmaObject.decrypt;
    if ((ek.attributes & required) !== required || (ek.attributes & TpmaObject.sign) !== 0)
      return 'the EK is not a restricted decryption key';
    return undefined;
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

function binding(deviceId: string, tpm: CheckedTpm): Buffer[] {
  return [Buffer.from(deviceId), tpm.ekSerial, tpm.akName];
}

function reasonOf(fault: QuoteFault): AttestationReasonCode {
  switch (fault.fault) {
    case 'ak-malformed':
    case 'ak-attributes':
      return AttestationReason.akInvalid;
    case 'quote-malformed':
    case 'signature-invalid':
      return AttestationReason.quoteInvalid;
    case 'extra-data-mismatch':
      return AttestationReason.akNotBound;
    case 'event-log-invalid':
    case 'pcr-digest-mismatch':
      return AttestationReason.eventLogInvalid;
  }
}
