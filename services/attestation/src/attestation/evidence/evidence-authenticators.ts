import type { EvidenceKind } from '@rampart/contracts';
import type { EvidenceAuthenticator } from './evidence-authenticator.js';
import type { ManufacturerEndorsement } from './manufacturer-endorsement.js';
import { PsaTokenAuthenticator } from './psa-token.authenticator.js';
import type { Tpm2QuoteAuthenticator } from './tpm2-quote/tpm2-quote.authenticator.js';

/** One authenticator per evidence kind; a kind without one is refused as malformed. */
export type Authenticators = { readonly [K in EvidenceKind]?: EvidenceAuthenticator<K> };

/**
 * The registry the service runs with: every kind endorsed by the same manufacturer roots. TPM 2.0 quotes only when
 * there are TPM vendor roots to check EK certificates against (TPM_VENDOR_CA_FILE). A new kind adds its entry here.
 */
export function createAuthenticators(endorsement: ManufacturerEndorsement, tpm2?: Tpm2QuoteAuthenticator): Authenticators {
  return { 'psa-token': new PsaTokenAuthenticator(endorsement), ...(tpm2 === undefined ? {} : { 'tpm2-quote': tpm2 }) };
}
