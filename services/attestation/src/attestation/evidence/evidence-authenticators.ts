import type { EvidenceKind } from '@rampart/contracts';
import type { EvidenceAuthenticator } from './evidence-authenticator.js';
import { ManufacturerEndorsement } from './manufacturer-endorsement.js';
import { PsaTokenAuthenticator } from './psa-token.authenticator.js';

/** One authenticator per evidence kind; a kind without one (a TPM quote before its verifier is built) is refused as malformed. */
export type Authenticators = { readonly [K in EvidenceKind]?: EvidenceAuthenticator<K> };

/** The registry the service runs with: every kind endorsed by the same manufacturer roots. A new kind adds its entry here. */
export function createAuthenticators(manufacturerRootsPem: readonly string[]): Authenticators {
  const endorsement = new ManufacturerEndorsement(manufacturerRootsPem);
  return { 'psa-token': new PsaTokenAuthenticator(endorsement) };
}
