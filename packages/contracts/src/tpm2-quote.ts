import { z } from 'zod';
import { DEVICE_ID_PATTERN } from './identity.js';
import { TRACEPARENT_PATTERN } from './trace-context.js';
import { EVIDENCE_PACKET_OVERHEAD_BYTES, MAX_EVIDENCE_BYTES, base64urlBytes as bytes, base64urlLength } from './evidence-limits.js';

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

/**
 * Size caps, bytes before base64url. Together they fit the evidence envelope in MAX_EVIDENCE_BYTES and in the
 * gateway's packet: the event log gets what the other fields leave (TPM2_MAX_EVENT_LOG_BYTES, about 7 KiB; a
 * Rampart boot's log is under 1 KiB).
 */
export const TPM2_LIMITS = {
  /** An X.509 certificate (EK certificate, IDevID): vendors' RSA-2048 EK certificates are 1–1.5 KiB. */
  certificate: 2048,
  /** A TPM2B_PUBLIC: an RSA-4096 storage key with a SHA-512 policy is about 610 bytes. */
  public: 640,
  /** A sealed challenge: IV, nonce and tag are 60 bytes. */
  challenge: 128,
  /** TPMS_ATTEST of a quote: two Names, a digest, clock info and a few PCR selections. */
  quote: 512,
  /** TPMT_SIGNATURE: an RSA-4096 signature with its algorithm ids is 518 bytes. */
  signature: 520,
  /** TPM2B_ID_OBJECT: an HMAC and the credential, each at most a SHA-512 digest, with their sizes. */
  idObject: 256,
  /** TPM2B_ENCRYPTED_SECRET: an RSA-4096 OAEP block, or a P-521 point. */
  encryptedSecret: 520,
} as const;

/** The envelope's JSON around its values (field names, quotes, the longest traceparent): measured, not guessed. */
const ENVELOPE_FRAME_CHARS = JSON.stringify({
  kind: TPM2_QUOTE_KIND,
  challenge: '',
  idevid: '',
  ekCertificate: '',
  ekPublic: '',
  akPublic: '',
  quote: '',
  signature: '',
  eventLog: '',
  traceparent: `00-${'1'.repeat(32)}-${'1'.repeat(16)}-01`,
}).length;

/** The event log's cap: what the other fields, at their caps, leave of the envelope's budget. */
export const TPM2_MAX_EVENT_LOG_BYTES =
  Math.floor(
    (MAX_EVIDENCE_BYTES -
      EVIDENCE_PACKET_OVERHEAD_BYTES -
      ENVELOPE_FRAME_CHARS -
      base64urlLength(TPM2_LIMITS.challenge) -
      2 * base64urlLength(TPM2_LIMITS.certificate) -
      2 * base64urlLength(TPM2_LIMITS.public) -
      base64urlLength(TPM2_LIMITS.quote) -
      base64urlLength(TPM2_LIMITS.signature)) /
      4,
  ) * 3;

/** The first message: who the TPM is and which key it will quote with. All DER / TPM wire bytes, base64url. */
export const Tpm2AttestRequestSchema = z
  .object({
    kind: z.literal(TPM2_QUOTE_KIND),
    /** The EK certificate, DER, as the TPM vendor wrote it to NV (index 0x01c00002 for RSA-2048). */
    ekCertificate: bytes(TPM2_LIMITS.certificate),
    /** The EK's TPM2B_PUBLIC. */
    ekPublic: bytes(TPM2_LIMITS.public),
    /** The attestation key's TPM2B_PUBLIC. */
    akPublic: bytes(TPM2_LIMITS.public),
  })
  .strict();
export type Tpm2AttestRequest = z.infer<typeof Tpm2AttestRequestSchema>;

/** The platform's answer, for TPM2_ActivateCredential. */
export const Tpm2CredentialChallengeSchema = z
  .object({
    /** TPM2B_ID_OBJECT, base64url. */
    idObject: bytes(TPM2_LIMITS.idObject),
    /** TPM2B_ENCRYPTED_SECRET, base64url. */
    encryptedSecret: bytes(TPM2_LIMITS.encryptedSecret),
    /** The nonce sealed for the platform (it holds no state between the two messages); returned as it came. */
    challenge: bytes(TPM2_LIMITS.challenge),
    expiresAt: z.number().int(),
  })
  .strict();
export type Tpm2CredentialChallenge = z.infer<typeof Tpm2CredentialChallengeSchema>;

/** The evidence. */
export const Tpm2QuoteEvidenceSchema = z
  .object({
    kind: z.literal(TPM2_QUOTE_KIND),
    challenge: bytes(TPM2_LIMITS.challenge),
    /** The device's IDevID, DER: it chains to a manufacturer root and names the TPM (hardwareModuleName). */
    idevid: bytes(TPM2_LIMITS.certificate),
    ekCertificate: bytes(TPM2_LIMITS.certificate),
    ekPublic: bytes(TPM2_LIMITS.public),
    akPublic: bytes(TPM2_LIMITS.public),
    /** TPMS_ATTEST as the TPM signed it. */
    quote: bytes(TPM2_LIMITS.quote),
    /** TPMT_SIGNATURE by the AK. */
    signature: bytes(TPM2_LIMITS.signature),
    /** The TCG PC Client crypto-agile event log (TCG_PCR_EVENT2). */
    eventLog: bytes(TPM2_MAX_EVENT_LOG_BYTES),
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
