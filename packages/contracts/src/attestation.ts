import { z } from 'zod';
import type { DeviceErrorCode } from './errors.js';
import { DEVICE_ID_PATTERN, TENANT_ID_PATTERN } from './identity.js';
import { Tpm2Reason, type Tpm2CredentialChallenge } from './tpm2-quote.js';

import { MAX_EVIDENCE_BYTES } from './evidence-kinds.js';

export const NONCE_BYTES = 32;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Boot stages in measurement order; apps are `app:<name>`. */
export const FIXED_BOOT_STAGES = ['rom', 'bootloader', 'security-monitor', 'os'] as const;
// One pattern with a message that names the valid stages: a union's error named only its last branch's pattern.
export const BootStageSchema = z
  .string()
  .regex(
    new RegExp(`^(?:${FIXED_BOOT_STAGES.join('|')}|app:[a-z0-9][a-z0-9-]{0,62})$`),
    `a boot stage: ${FIXED_BOOT_STAGES.join(', ')} or app:<name> (lower-case letters, digits, -)`,
  );

export const BootMeasurementSchema = z.object({ stage: BootStageSchema, sha256: z.string().regex(SHA256_HEX) }).strict();
export type BootMeasurement = z.infer<typeof BootMeasurementSchema>;

/** Why an attestation failed; each is recorded, audited and counted. */
export const AttestationReason = {
  malformedEvidence: 'MALFORMED_EVIDENCE',
  evidenceTooLarge: 'EVIDENCE_TOO_LARGE',
  endorsementInvalid: 'ENDORSEMENT_INVALID',
  deviceMismatch: 'DEVICE_MISMATCH',
  signatureInvalid: 'SIGNATURE_INVALID',
  nonceUnknown: 'NONCE_UNKNOWN',
  nonceExpired: 'NONCE_EXPIRED',
  nonceReplayed: 'NONCE_REPLAYED',
  nonceOtherDevice: 'NONCE_OTHER_DEVICE',
  measurementUnknown: 'MEASUREMENT_UNKNOWN',
  measurementRevoked: 'MEASUREMENT_REVOKED',
  bootLogIncomplete: 'BOOT_LOG_INCOMPLETE',
  securityVersionBelowFloor: 'SECURITY_VERSION_BELOW_FLOOR',
  deviceRevoked: 'DEVICE_REVOKED',
  claimedByOtherTenant: 'CLAIMED_BY_OTHER_TENANT',
  deviceUnclaimed: 'DEVICE_UNCLAIMED',
  /** The token's CBOR or COSE form is refused: not well-formed, duplicate keys, indefinite lengths, detached payload, extra bytes. */
  tokenMalformed: 'TOKEN_MALFORMED',
  /** A signature algorithm other than the kind's (ES256 for PSA tokens), or a critical header not understood. */
  algorithmUnsupported: 'ALGORITHM_UNSUPPORTED',
  /** A claim breaks its specification: a mandatory claim missing, a wrong size or type, another profile. */
  claimInvalid: 'CLAIM_INVALID',
  /** The security lifecycle is not "secured": a part in debug, provisioning or decommissioned is not trusted. */
  lifecycleNotSecured: 'LIFECYCLE_NOT_SECURED',
  ...Tpm2Reason,
} as const;
export type AttestationReasonCode = (typeof AttestationReason)[keyof typeof AttestationReason];

/**
 * Refusals a newer OS can cure: an OS measurement that is unknown or revoked, a security version under a
 * raised floor. A device refused only for these may take the recovery path (an OS from the update server on
 * its IDevID); the attestation service still decides, per device, from the evidence (see RecoveryGrant).
 */
export const RECOVERABLE_REASONS: readonly AttestationReasonCode[] = [
  AttestationReason.measurementUnknown,
  AttestationReason.measurementRevoked,
  AttestationReason.securityVersionBelowFloor,
];

/**
 * How much longer the requester waits for an attestation request, in milliseconds from when it sent it: work still
 * queued past that is dropped instead of being done for nobody. Relative, so no two hosts' clocks need agree.
 */
const RequestTimeoutSchema = z.number().int().min(0).max(600_000).optional();

/** Request/reply: the gateway asks for a nonce for a device it has authenticated by its IDevID. */
export const NonceIssueRequestSchema = z
  .object({ deviceId: z.string().regex(DEVICE_ID_PATTERN), timeoutMs: RequestTimeoutSchema })
  .strict();
export const NonceIssueReplySchema = z.object({ nonce: z.string(), expiresAt: z.number().int() });
export type NonceIssueReply = z.infer<typeof NonceIssueReplySchema>;

/** Request/reply: the gateway forwards a device's evidence envelope (its kind's signed token and endorsement), as the device sent it. */
export const EvidenceVerifyRequestSchema = z
  .object({
    deviceId: z.string().regex(DEVICE_ID_PATTERN),
    evidence: z.string().max(MAX_EVIDENCE_BYTES),
    timeoutMs: RequestTimeoutSchema,
  })
  .strict();
export const EvidenceVerifyReplySchema = z.discriminatedUnion('pass', [
  z.object({
    pass: z.literal(true),
    /** The operational certificate (LDevID), PEM. */
    certificatePem: z.string(),
    /** Tenant CA then platform root, PEM. */
    chainPem: z.string(),
    notAfter: z.number().int(),
  }),
  z.object({ pass: z.literal(false), reasons: z.array(z.string()) }),
]);
export type EvidenceVerifyReply = z.infer<typeof EvidenceVerifyReplySchema>;

/** What the platform publishes on `devices/<id>/attest/response`. */
export type AttestationResponse =
  | { readonly type: 'nonce'; readonly nonce: string; readonly expiresAt: number }
  | ({ readonly type: 'tpm2-credential' } & Tpm2CredentialChallenge)
  | { readonly type: 'verdict'; readonly verdict: EvidenceVerifyReply }
  | { readonly type: 'error'; readonly code: DeviceErrorCode; readonly message: string };

export const DeviceRevocationEventSchema = z
  .object({ deviceId: z.string().regex(DEVICE_ID_PATTERN), revoked: z.boolean(), reason: z.string().max(500).nullable() })
  .strict();
export type DeviceRevocationEvent = z.infer<typeof DeviceRevocationEventSchema>;

/** A tenant was created: published durably, so the updates service makes its repository even if it was down. */
export const TenantCreatedEventSchema = z.object({ tenantId: z.string().regex(TENANT_ID_PATTERN) }).strict();
export type TenantCreatedEvent = z.infer<typeof TenantCreatedEventSchema>;

/**
 * Request/reply: may this device take the recovery path, and to what? Granted when the device's last
 * attestation was refused only because its OS is outdated (every other stage known-good, the device claimed
 * and not revoked): then its tenant and the OS it runs (security version, measurement), so that only another
 * released OS, at or above that security version, is served to it.
 */
export const RecoveryGrantRequestSchema = z.object({ deviceId: z.string().regex(DEVICE_ID_PATTERN) }).strict();
export const RecoveryGrantReplySchema = z.discriminatedUnion('granted', [
  z.object({
    granted: z.literal(true),
    tenantId: z.string(),
    osSecurityVersion: z.number().int().min(0).max(0xffff),
    /** The measurement of the OS it runs: recovery never serves that one again. */
    osMeasurement: z.string().regex(SHA256_HEX),
    expiresAt: z.number().int(),
  }),
  z.object({ granted: z.literal(false) }),
]);
export type RecoveryGrantReply = z.infer<typeof RecoveryGrantReplySchema>;

/** Request/reply: which tenant claimed a device (null if none) — for reports from a device not yet attested. */
export const DeviceTenantRequestSchema = z.object({ deviceId: z.string().regex(DEVICE_ID_PATTERN) }).strict();
export const DeviceTenantReplySchema = z.object({ tenantId: z.string().nullable() });

/**
 * Request/reply: what a tenant API token may do, for the REST APIs of other
 * services. Only the token's SHA-256 crosses the bus, never the token.
 */
export const TokenIntrospectRequestSchema = z.object({ tokenHash: z.string().regex(/^[0-9a-f]{64}$/) }).strict();
export const TokenIntrospectReplySchema = z.union([
  z.object({
    valid: z.literal(true),
    tenantId: z.string(),
    role: z.enum(['Administrator', 'Contributor', 'Reader']),
    /** When the token stops being valid (epoch ms), so no cache keeps it longer; absent: it does not expire. */
    expiresAt: z.number().int().positive().optional(),
  }),
  z.object({ valid: z.literal(false) }),
]);
export type TokenIntrospectReply = z.infer<typeof TokenIntrospectReplySchema>;

/** Broadcast when an API token is revoked: every guard drops it at once rather than at its cache's expiry. */
export const TokenRevokedEventSchema = z.object({ tokenHash: z.string().regex(/^[0-9a-f]{64}$/) }).strict();
export type TokenRevokedEvent = z.infer<typeof TokenRevokedEventSchema>;

export const RevocationsListRequestSchema = z.object({}).strict();
export const RevocationsListReplySchema = z.object({ deviceIds: z.array(z.string().regex(DEVICE_ID_PATTERN)) });

/**
 * A refused attestation, published durably so the failures service can
 * report it: the device the gateway authenticated (never the id the
 * evidence claims), its tenant if claimed, and every reason.
 */
export const AttestationFailedEventSchema = z
  .object({
    id: z.string().uuid(),
    deviceId: z.string().regex(DEVICE_ID_PATTERN),
    tenantId: z.string().nullable(),
    reasons: z.array(z.enum(Object.values(AttestationReason) as [AttestationReasonCode, ...AttestationReasonCode[]])).min(1),
    at: z.number().int(),
  })
  .strict();
export type AttestationFailedEvent = z.infer<typeof AttestationFailedEventSchema>;

/** An image release or revocation, as the updates service announces it. */
export const ImageEventSchema = z
  .object({
    imageId: z.string().min(1).max(128),
    stage: BootStageSchema,
    sha256: z.string().regex(SHA256_HEX),
    version: z.string().min(1).max(64),
    securityVersion: z.number().int().min(0).max(0xffff).optional(),
  })
  .strict();
export type ImageEvent = z.infer<typeof ImageEventSchema>;
