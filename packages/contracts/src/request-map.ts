import type { z } from 'zod';
import {
  TokenIntrospectReplySchema,
  TokenIntrospectRequestSchema,
  DeviceTenantReplySchema,
  DeviceTenantRequestSchema,
  EvidenceVerifyReplySchema,
  EvidenceVerifyRequestSchema,
  NonceIssueReplySchema,
  NonceIssueRequestSchema,
  RecoveryGrantReplySchema,
  RecoveryGrantRequestSchema,
  RevocationsListReplySchema,
  RevocationsListRequestSchema,
} from './attestation.js';
import {
  BucketsQueryReplySchema,
  BucketsQueryRequestSchema,
  HealthCompareReplySchema,
  HealthCompareRequestSchema,
  StabilityQueryReplySchema,
  StabilityQueryRequestSchema,
} from './failures.js';
import { CohortDevicesReplySchema, CohortDevicesRequestSchema } from './commands.js';
import { UpdateRootReplySchema, UpdateRootRequestSchema } from './updates.js';
import { Subject } from './subjects.js';
import { Tpm2ChallengeReplySchema, Tpm2ChallengeRequestSchema } from './tpm2-quote.js';
import { DeviceLatestReplySchema, DeviceLatestRequestSchema, IngestStatsReplySchema, IngestStatsRequestSchema } from './telemetry.js';

/**
 * Every request/reply subject with the schema of its request and its reply.
 * Both sides validate against these, so a message that crosses a process
 * boundary is checked when it is sent and when it is received.
 */
export const RequestContracts = {
  [Subject.telemetryDeviceLatest]: { request: DeviceLatestRequestSchema, reply: DeviceLatestReplySchema },
  [Subject.telemetryIngestStats]: { request: IngestStatsRequestSchema, reply: IngestStatsReplySchema },
  [Subject.attestationNonceIssue]: { request: NonceIssueRequestSchema, reply: NonceIssueReplySchema },
  [Subject.attestationTpm2Challenge]: { request: Tpm2ChallengeRequestSchema, reply: Tpm2ChallengeReplySchema },
  [Subject.attestationEvidenceVerify]: { request: EvidenceVerifyRequestSchema, reply: EvidenceVerifyReplySchema },
  [Subject.attestationRevocationsList]: { request: RevocationsListRequestSchema, reply: RevocationsListReplySchema },
  [Subject.attestationTokenIntrospect]: { request: TokenIntrospectRequestSchema, reply: TokenIntrospectReplySchema },
  [Subject.attestationDeviceTenant]: { request: DeviceTenantRequestSchema, reply: DeviceTenantReplySchema },
  [Subject.attestationRecoveryGrant]: { request: RecoveryGrantRequestSchema, reply: RecoveryGrantReplySchema },
  [Subject.failuresHealthCompare]: { request: HealthCompareRequestSchema, reply: HealthCompareReplySchema },
  [Subject.failuresStabilityQuery]: { request: StabilityQueryRequestSchema, reply: StabilityQueryReplySchema },
  [Subject.failuresBucketsQuery]: { request: BucketsQueryRequestSchema, reply: BucketsQueryReplySchema },
  [Subject.updatesCohortDevices]: { request: CohortDevicesRequestSchema, reply: CohortDevicesReplySchema },
  [Subject.updatesRootGet]: { request: UpdateRootRequestSchema, reply: UpdateRootReplySchema },
} as const;

export type RequestSubject = keyof typeof RequestContracts;
export type RequestOf<S extends RequestSubject> = z.infer<(typeof RequestContracts)[S]['request']>;
export type ReplyOf<S extends RequestSubject> = z.infer<(typeof RequestContracts)[S]['reply']>;

export function isRequestSubject(subject: string): subject is RequestSubject {
  return Object.hasOwn(RequestContracts, subject);
}
