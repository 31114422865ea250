import { z } from 'zod';
import { DEVICE_ID_PATTERN } from './identity.js';
import { TRACEPARENT_PATTERN } from './trace-context.js';

/**
 * Evidence kind `tpm2-quote`: a Linux-class device whose measured boot lives in a TPM 2.0. One round trip more than
 * a signed token, since the nonce must reach only the TPM:
 *
 * 1. `attest/request` carries a `Tpm2AttestRequest`: the EK certificate (from the TPM vendor), the EK's and the
 *    attestation key's public areas. The platform checks the EK certificate chains to a trusted TPM vendor root and
 *    the AK is a restricted signing key, then answers `Tpm2CredentialChallenge`: the nonce inside
 *    MakeCredential(EK, Name(AK)) — only the TPM that holds that EK, with that AK loaded, can recover it
 *    (TPM2_ActivateCredential) — and the nonce sealed for the platform itself (`challenge`), so no state is kept.
 * 2. `attest/evidence` carries a `Tpm2QuoteEvidence`: the challenge back, a TPM2_Quote by the AK over the boot
 *    PCRs with extraData = the nonce, and the TCG crypto-agile event log. The device's IDevID (the certificate it
 *    connects with) names its TPM in a hardwareModuleName; the platform checks they agree.
 */
export const TPM2_QUOTE_KIND = 'tpm2-quote';

/** Why a TPM quote is refused (added to `AttestationReason`). */
export const Tpm2Reason = {
  /** The EK certificate does not chain to a trusted TPM vendor root, is out of date, or is not for the EK presented. */
  ekUntrusted: 'EK_UNTRUSTED',
  /** The attestation key is malformed or not a restricted signing key fixed to its TPM. */
  akInvalid: 'AK_INVALID',
  /** The quote does not carry the credential's nonce: the AK is not in the TPM that holds the EK. */
  akNotBound: 'AK_NOT_BOUND',
  /** The quote is malformed, not a TPM-made quote, or not signed by the AK. */
  quoteInvalid: 'QUOTE_INVALID',
  /** The event log is malformed or does not replay to the PCRs the TPM quoted. */
  eventLogInvalid: 'EVENT_LOG_INVALID',
  /** The IDevID names another TPM (its hardwareModuleName is not this EK), or none. */
  tpmMismatch: 'TPM_MISMATCH',
} as const;

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const bytes = (max: number) =>
  z
    .string()
    .regex(BASE64URL)
    .max(Math.ceil((max * 4) / 3));

const MAX_CERTIFICATE_BYTES = 3 * 1024;
const MAX_PUBLIC_BYTES = 1024;

/** The first message: who the TPM is and which key it will quote with. All DER / TPM wire bytes, base64url. */
export const Tpm2AttestRequestSchema = z
  .object({
    kind: z.literal(TPM2_QUOTE_KIND),
    /** The EK certificate, DER, as the TPM vendor wrote it to NV (index 0x01c00002 for RSA-2048). */
    ekCertificate: bytes(MAX_CERTIFICATE_BYTES),
    /** The EK's TPM2B_PUBLIC. */
    ekPublic: bytes(MAX_PUBLIC_BYTES),
    /** The attestation key's TPM2B_PUBLIC. */
    akPublic: bytes(MAX_PUBLIC_BYTES),
  })
  .strict();
export type Tpm2AttestRequest = z.infer<typeof Tpm2AttestRequestSchema>;

/** The platform's answer, for TPM2_ActivateCredential. */
export const Tpm2CredentialChallengeSchema = z
  .object({
    /** TPM2B_ID_OBJECT, base64url. */
    idObject: bytes(512),
    /** TPM2B_ENCRYPTED_SECRET, base64url. */
    encryptedSecret: bytes(1024),
    /** The nonce sealed for the platform (it holds no state between the two messages); returned as it came. */
    challenge: bytes(256),
    expiresAt: z.number().int(),
  })
  .strict();
export type Tpm2CredentialChallenge = z.infer<typeof Tpm2CredentialChallengeSchema>;

/** The evidence. */
export const Tpm2QuoteEvidenceSchema = z
  .object({
    kind: z.literal(TPM2_QUOTE_KIND),
    challenge: bytes(256),
    /** The device's IDevID, DER: it chains to a manufacturer root and names the TPM (hardwareModuleName). */
    idevid: bytes(MAX_CERTIFICATE_BYTES),
    ekCertificate: bytes(MAX_CERTIFICATE_BYTES),
    ekPublic: bytes(MAX_PUBLIC_BYTES),
    akPublic: bytes(MAX_PUBLIC_BYTES),
    /** TPMS_ATTEST as the TPM signed it. */
    quote: bytes(1024),
    /** TPMT_SIGNATURE by the AK. */
    signature: bytes(1024),
    /** The TCG PC Client crypto-agile event log (TCG_PCR_EVENT2). */
    eventLog: bytes(8 * 1024),
    traceparent: z.string().regex(TRACEPARENT_PATTERN).optional(),
  })
  .strict();
export type Tpm2QuoteEvidence = z.infer<typeof Tpm2QuoteEvidenceSchema>;

/** Request/reply (gateway → attestation): a credential challenge for a device it authenticated by IDevID. */
export const Tpm2ChallengeRequestSchema = z
  .object({
    deviceId: z.string().regex(DEVICE_ID_PATTERN),
    request: Tpm2AttestRequestSchema,
    timeoutMs: z.number().int().min(0).max(600_000).optional(),
  })
  .strict();
export const Tpm2ChallengeReplySchema = z.discriminatedUnion('pass', [
  z.object({ pass: z.literal(true), challenge: Tpm2CredentialChallengeSchema }),
  z.object({ pass: z.literal(false), reasons: z.array(z.string()) }),
]);
export type Tpm2ChallengeReply = z.infer<typeof Tpm2ChallengeReplySchema>;
