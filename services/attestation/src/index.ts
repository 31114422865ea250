export { EvidenceVerifier, measurementKey } from './attestation/evidence-verifier.js';
export type { AttestationPolicy, DeviceState, VerificationContext, Verdict } from './attestation/evidence-verifier.js';
export { DEFAULT_NONCE_TTL_MS, InMemorySpentNonces, SealedNonceStore } from './attestation/nonce-store.js';
export type { NonceOutcome, NonceStore, SpentNonces } from './attestation/nonce-store.js';
export { attestationConfig, attestationEnvSchema, loadAttestationConfig } from './attestation.config.js';
export type { AttestationConfig, AttestationConfigInput } from './attestation.config.js';
export { startAttestation } from './start-attestation.js';
export type { RunningAttestation } from './start-attestation.js';
export { attestationMigrations } from './migrations/index.js';
