import { z } from 'zod';
import { TRACEPARENT_PATTERN } from './trace-context.js';
import { TPM2_QUOTE_KIND, Tpm2QuoteEvidenceSchema } from './tpm2-quote.js';
import { base64urlBytes as base64url } from './evidence-limits.js';

export { MAX_EVIDENCE_BYTES } from './evidence-limits.js';

/**
 * The evidence a device may attest with, one verifier per kind in the attestation service:
 * - `psa-token`: an Arm PSA attestation token (RFC 9783), as Trusted Firmware-M's Initial Attestation service
 *   emits it on Cortex-M parts, beside the certificate of its Initial Attestation Key (the device's IDevID).
 * - `tpm2-quote`: a TPM 2.0 quote from a Linux-class device, with its event log, EK certificate and IDevID
 *   (`Tpm2QuoteEvidenceSchema`, tpm2-quote.ts; its first message and credential challenge are there too).
 */
export const PSA_TOKEN_KIND = 'psa-token';
export const EVIDENCE_KINDS = [PSA_TOKEN_KIND, TPM2_QUOTE_KIND] as const;
export type EvidenceKind = (typeof EVIDENCE_KINDS)[number];

/**
 * A PSA token larger than this is refused, by the envelope schema and again by the verifier before it decodes a byte
 * (a Rampart token is about 1.5 KiB; 36 components with every optional field fit). Base64url, beside a 3 KiB
 * certificate, it keeps the envelope under `MAX_EVIDENCE_BYTES`.
 */
export const MAX_PSA_TOKEN_BYTES = 8 * 1024;

/** W3C trace context when the device traces this attestation (not signed: it says nothing about the device). */
const traceparent = z.string().regex(TRACEPARENT_PATTERN).optional();

/**
 * A PSA token on the wire. The IAK certificate travels beside the token, not in its COSE unprotected header
 * (RFC 9360 x5chain): Trusted Firmware-M signs a token with no certificate in it, and a device maker's firmware
 * should send what the silicon produced, untouched, with the certificate its factory stored; the TPM kind sends
 * its endorsement certificate the same way.
 */
export const PsaTokenEvidenceSchema = z
  .object({
    kind: z.literal(PSA_TOKEN_KIND),
    /** The tagged COSE_Sign1, base64url. */
    token: base64url(MAX_PSA_TOKEN_BYTES),
    /** The IAK's certificate (the IDevID), DER, base64url: it must chain to a manufacturer root. */
    iakCertificate: base64url(3 * 1024),
    traceparent,
  })
  .strict();
export type PsaTokenEvidence = z.infer<typeof PsaTokenEvidenceSchema>;

/** Evidence as a device sends it, told apart by `kind`. */
export const EvidenceEnvelopeSchema = z.discriminatedUnion('kind', [PsaTokenEvidenceSchema, Tpm2QuoteEvidenceSchema]);
export type EvidenceEnvelope = z.infer<typeof EvidenceEnvelopeSchema>;
