export { DEVICE_ID_PATTERN, TENANT_ID_PATTERN, isDeviceId } from './identity.js';
export {
  ALLOWED_PUBLISH,
  ALLOWED_SUBSCRIBE,
  attestResponseTopic,
  DEVICE_TOPIC_ROOT,
  DevicePublishTopic,
  DeviceSubscribeTopic,
  deviceCommandTopic,
  deviceTopic,
  parseDeviceTopic,
} from './topics.js';
export type { DeviceCredential, DevicePublishKind, DeviceSubscribeKind, ParsedDeviceTopic } from './topics.js';
export { Durable, QueueGroup, Stream, Subject, streamName, withPrefix } from './subjects.js';
export type { ServiceName, StreamDefinition, SubjectName } from './subjects.js';
export {
  DeviceLatestReplySchema,
  DeviceLatestRequestSchema,
  DeviceTelemetrySchema,
  IngestStatsReplySchema,
  IngestStatsRequestSchema,
  MAX_CLOCK_AHEAD_MS,
  MAX_METRICS_PER_READING,
  MAX_READING_AGE_MS,
  METRIC_NAME_PATTERN,
  MetricValueSchema,
  MAX_READINGS_PER_BATCH,
  TelemetryBatchSchema,
  TelemetryReadingSchema,
  batchMessageId,
} from './telemetry.js';
export type {
  DeviceLatestReply,
  DeviceLatestRequest,
  DeviceTelemetry,
  IngestStatsReply,
  TelemetryBatch,
  TelemetryReading,
} from './telemetry.js';
export {
  DenialReason,
  ERROR_TABLE,
  ErrorCode,
  MqttReason,
  errorCodeOfHttpStatus,
  httpStatusOf,
  isErrorCode,
  toDeviceErrorCode,
  toWireErrorCode,
} from './errors.js';
export type { DenialReasonValue, DeviceErrorCode, ErrorCodeValue, ErrorTableEntry, MqttReasonValue, WireError } from './errors.js';
export { RequestContracts, isRequestSubject } from './request-map.js';
export type { ReplyOf, RequestOf, RequestSubject } from './request-map.js';
export {
  AttestationReason,
  AttestationFailedEventSchema,
  DeviceRevocationEventSchema,
  DeviceTenantReplySchema,
  TokenIntrospectReplySchema,
  TokenIntrospectRequestSchema,
  DeviceTenantRequestSchema,
  ImageEventSchema,
  EvidenceVerifyReplySchema,
  EvidenceVerifyRequestSchema,
  RevocationsListReplySchema,
  RevocationsListRequestSchema,
  NonceIssueReplySchema,
  NonceIssueRequestSchema,
  RECOVERABLE_REASONS,
  RecoveryGrantReplySchema,
  RecoveryGrantRequestSchema,
  BootMeasurementSchema,
  BootStageSchema,
  FIXED_BOOT_STAGES,
  NONCE_BYTES,
  TenantCreatedEventSchema,
  TokenRevokedEventSchema,
} from './attestation.js';
export type {
  AttestationFailedEvent,
  TokenIntrospectReply,
  TokenRevokedEvent,
  ImageEvent,
  DeviceRevocationEvent,
  AttestationResponse,
  AttestationReasonCode,
  BootMeasurement,
  EvidenceVerifyReply,
  NonceIssueReply,
  RecoveryGrantReply,
  TenantCreatedEvent,
} from './attestation.js';
export {
  DeviceFailureReportSchema,
  FAILURE_KINDS,
  HealthCompareReplySchema,
  HealthCompareRequestSchema,
  MAX_FAILURE_REPORT_BYTES,
  MAX_FAILURE_REPORTS_PER_BATCH,
  ReceivedFailureBatchSchema,
  ReceivedFailureReportSchema,
  StackFrameSchema,
  DeviceHeartbeatSchema,
  MAX_HEARTBEAT_BYTES,
  MAX_HEARTBEAT_INTERVAL_MS,
  MAX_HEARTBEATS_PER_BATCH,
  ReceivedHeartbeatBatchSchema,
  ReceivedHeartbeatSchema,
  RunningComponentSchema,
  StabilityCohortSchema,
  StabilityQueryReplySchema,
  StabilityQueryRequestSchema,
  BucketCountSchema,
  BucketsQueryReplySchema,
  BucketsQueryRequestSchema,
} from './failures.js';
export type {
  DeviceFailureReport,
  FailureKind,
  HealthCompareReply,
  HealthCompareRequest,
  ReceivedFailureBatch,
  ReceivedFailureReport,
  DeviceHeartbeat,
  ReceivedHeartbeat,
  ReceivedHeartbeatBatch,
  StabilityCohort,
  StabilityQueryReply,
  StabilityQueryRequest,
  BucketCount,
  BucketsQueryReply,
  BucketsQueryRequest,
} from './failures.js';
export { CohortDevicesReplySchema, CohortDevicesRequestSchema, DeviceCommandRequestSchema } from './commands.js';
export type { CohortDevicesReply, CohortDevicesRequest, DeviceCommandRequest } from './commands.js';
export { MAX_ROOT_METADATA_BYTES, UpdateRootReplySchema, UpdateRootRequestSchema } from './updates.js';
export type { UpdateRootReply, UpdateRootRequest } from './updates.js';
export { DEVICE_COMMANDS } from './topics.js';
export type { DeviceCommand } from './topics.js';
export { TRACEPARENT_PATTERN } from './trace-context.js';
export {
  Ids,
  MAX_INSTANT_MS,
  MIN_INSTANT_MS,
  SHA256_HEX_PATTERN,
  decimalInteger,
  instantDate,
  instantMs,
  isInstantInRange,
  storableText,
  unstorableIn,
  text,
} from './edge-input.js';
export type { TextOptions } from './edge-input.js';
export { DEFAULT_PORTS } from './ports.js';
export type { PortName } from './ports.js';
export {
  TPM2_LIMITS,
  TPM2_MAX_EVENT_LOG_BYTES,
  TPM2_QUOTE_KIND,
  Tpm2AttestRequestSchema,
  Tpm2ChallengeReplySchema,
  Tpm2ChallengeRequestSchema,
  Tpm2CredentialChallengeSchema,
  Tpm2QuoteEvidenceSchema,
  Tpm2Reason,
} from './tpm2-quote.js';
export type { Tpm2AttestRequest, Tpm2ChallengeReply, Tpm2CredentialChallenge, Tpm2QuoteEvidence } from './tpm2-quote.js';
export {
  EVIDENCE_KINDS,
  EvidenceEnvelopeSchema,
  MAX_EVIDENCE_BYTES,
  MAX_PSA_TOKEN_BYTES,
  PSA_TOKEN_KIND,
  PsaTokenEvidenceSchema,
} from './evidence-kinds.js';
export type { EvidenceEnvelope, EvidenceKind, PsaTokenEvidence } from './evidence-kinds.js';
export { EVIDENCE_PACKET_OVERHEAD_BYTES, base64urlBytes, base64urlLength } from './evidence-limits.js';
