export { EvidenceVerifier, measurementKey } from './attestation/evidence-verifier.js';
export type { AttestationPolicy, DeviceState, VerificationContext, Verdict } from './attestation/evidence-verifier.js';
export { DEFAULT_NONCE_TTL_MS, InMemoryNonceStore } from './attestation/nonce-store.js';
export type { NonceOutcome, NonceStore } from './attestation/nonce-store.js';
