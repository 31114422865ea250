import { createHash, timingSafeEqual } from 'node:crypto';
import { TPM_HASHES, TpmAlg } from './tpm-constants.js';
import { STAGE_PCRS, replayEventLog, type ReplayedLog, type StageEvent } from './event-log.js';
import { TpmFormatError } from './tpm-reader.js';
import { parseQuote, verifyTpmSignature, type TpmQuote } from './tpm-attest.js';
import { attestationKeyFaults, parseTpm2bPublic, type TpmPublic } from './tpm-public.js';

/** Why a quote is refused. */
export type QuoteFault =
  | { readonly fault: 'ak-malformed'; readonly detail: string }
  | { readonly fault: 'ak-attributes'; readonly detail: string }
  | { readonly fault: 'quote-malformed'; readonly detail: string }
  | { readonly fault: 'signature-invalid'; readonly detail: string }
  | { readonly fault: 'signer-mismatch'; readonly detail: string }
  | { readonly fault: 'extra-data-mismatch'; readonly detail: string }
  | { readonly fault: 'event-log-invalid'; readonly detail: string }
  | { readonly fault: 'pcr-digest-mismatch'; readonly detail: string };

export interface QuoteInput {
  /** The AK's TPM2B_PUBLIC. */
  readonly akPublic: Uint8Array;
  /** TPMS_ATTEST as the TPM signed it. */
  readonly quote: Uint8Array;
  /** TPMT_SIGNATURE over `quote` by the AK. */
  readonly signature: Uint8Array;
  /** The crypto-agile event log. */
  readonly eventLog: Uint8Array;
}

export interface VerifiedQuote {
  readonly ak: TpmPublic;
  readonly quote: TpmQuote;
  readonly stages: readonly StageEvent[];
  readonly log: ReplayedLog;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Parses the AK and checks it is one (restricted signing key made in and fixed to its TPM). */
export function checkAttestationKey(akPublic: Uint8Array): TpmPublic | QuoteFault {
  let ak: TpmPublic;
  try {
    ak = parseTpm2bPublic(akPublic);
  } catch (error) {
    return { fault: 'ak-malformed', detail: message(error) };
  }
  const faults = attestationKeyFaults(ak);
  if (faults.length > 0) return { fault: 'ak-attributes', detail: faults.join(', ') };
  return ak;
}

/**
 * A quote by an attestation key over the PCRs its event log reaches: the AK is a restricted signing key, the quote
 * is a TPM-made TPMS_ATTEST of type quote, signed by the AK, qualified by `extraData`; the log replays, the quote
 * selects exactly the SHA-256 bank and every stage PCR (STAGE_PCRS) and every PCR the log extends, and the digest of the selected PCRs as replayed
 * (those the log leaves alone at zero) equals the quote's pcrDigest (computed with the AK's signing hash).
 * Whether the AK belongs to the TPM it claims is the credential's business, not this function's.
 */
export function verifyQuote(input: QuoteInput, extraData: Buffer): VerifiedQuote | QuoteFault {
  const ak = checkAttestationKey(input.akPublic);
  if ('fault' in ak) return ak;
  let quote: TpmQuote;
  try {
    quote = parseQuote(input.quote);
  } catch (error) {
    return { fault: 'quote-malformed', detail: message(error) };
  }
  if (!verifyTpmSignature(ak, input.quote, input.signature))
    return { fault: 'signature-invalid', detail: 'the AK did not sign this quote' };
  const signerFault = qualifiedSignerFault(ak, quote.qualifiedSigner);
  if (signerFault !== undefined) return { fault: 'signer-mismatch', detail: signerFault };
  if (quote.extraData.length !== extraData.length || !timingSafeEqual(quote.extraData, extraData))
    return { fault: 'extra-data-mismatch', detail: 'the quote is not qualified by this challenge' };
  let log: ReplayedLog;
  try {
    log = replayEventLog(input.eventLog);
  } catch (error) {
    return { fault: 'event-log-invalid', detail: error instanceof TpmFormatError ? error.message : message(error) };
  }
  const [bank, ...others] = quote.pcrSelections;
  if (bank === undefined || others.length > 0 || bank.hashAlg !== TpmAlg.sha256)
    return { fault: 'pcr-digest-mismatch', detail: 'the quote does not select the SHA-256 bank alone' };
  const unquoted = [...new Set([...STAGE_PCRS, ...log.pcrs.keys()])].filter((pcr) => !bank.pcrs.includes(pcr));
  if (unquoted.length > 0) return { fault: 'pcr-digest-mismatch', detail: `the quote leaves out stage PCRs ${unquoted.join(',')}` };
  const hash = TPM_HASHES.get(ak.schemeHash ?? TpmAlg.sha256)!;
  const digest = createHash(hash.name);
  for (const pcr of bank.pcrs) digest.update(log.pcrs.get(pcr) ?? Buffer.alloc(32));
  const expected = digest.digest();
  if (expected.length !== quote.pcrDigest.length || !timingSafeEqual(expected, quote.pcrDigest))
    return { fault: 'pcr-digest-mismatch', detail: 'the event log does not replay to the quoted PCRs' };
  return { ak, quote, stages: log.stages, log };
}

/**
 * The quote's qualifiedSigner is the AK's Qualified Name (Part 1 §16.6): nameAlg, then H(QN(parent) || Name(AK)).
 * Checked here: it is a Name of the AK's nameAlg and that digest's length. The digest itself is not recomputed: it
 * needs the parent's QN, which the verifier does not have — for an AK under the EK it would be
 * QN(EK) = H(handle of the endorsement hierarchy, 0x4000000B || Name(EK)) and QN(AK) = H(QN(EK) || Name(AK)); but a
 * device may make its AK under an SRK, whose Name the evidence does not carry. Nothing rests on the value: the AK
 * signed the quote (the signature), and the credential binds the AK's own Name to the EK (MakeCredential).
 */
function qualifiedSignerFault(ak: TpmPublic, qualifiedSigner: Buffer): string | undefined {
  const size = TPM_HASHES.get(ak.nameAlg)!.size;
  if (qualifiedSigner.length !== 2 + size || qualifiedSigner.readUInt16BE(0) !== ak.nameAlg)
    return "the quote's qualifiedSigner is not a Name of the AK's nameAlg";
  return undefined;
}
