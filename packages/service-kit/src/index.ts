export { BusError, BusTransport, InProcessBus, NatsBus, TypedBus, openStream, subjectMatches } from './bus/index.js';
export type {
  Closable,
  DurableConsumerOptions,
  DurableMessage,
  JoinedStream,
  MessageBus,
  NatsBusOptions,
  PublishOptions,
  RawHandler,
  StreamLimits,
  StreamOptions,
} from './bus/index.js';
export { decodeJson, encodeJson } from './bus/typed-bus.js';
export {
  BUS_KINDS,
  ConfigError,
  DEFAULT_HTTP_HOST,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  FILE_BACKED_KEYS,
  LOG_LEVELS,
  commonConfig,
  commonEnvShape,
  buildConfig,
  env,
  loadConfig,
  withBusChoice,
} from './config.js';
export type { BusKind, CommonConfig, ConfigInput, ConfigIssue, Env, LogLevel } from './config.js';
export { DEFAULT_DB_POOL_SIZE, openDatabase } from './database.js';
export type { DatabaseOptions } from './database.js';
export { freeLoopbackPort } from './free-port.js';
export { Readiness } from './health.js';
export type { ReadinessProbe, ReadinessReport } from './health.js';
export { createHttpApp } from './http-service.js';
export { closeOnSignals } from './signals.js';
export type { HttpApp, HttpAppOptions } from './http-service.js';
export { defineService } from './host/service-host.js';
export type {
  HostContext,
  HostPorts,
  HostedConfig,
  HostedDatabase,
  RunningService,
  ServiceDefinition,
  ServiceDescriptor,
  StartupStep,
} from './host/service-host.js';
export type { Job } from './host/job.js';
export { OPENAPI_DOCUMENT_PATH, OPENAPI_UI_PATH } from './host/open-api.js';
export type { OpenApiInfo } from './host/open-api.js';
export { NestPinoLogger, createLogger } from './logger.js';
export type { Logger } from './logger.js';
export { Observability } from './observability.js';
export type { ObservabilityOptions } from './observability.js';
export { MicroBatcher } from './micro-batcher.js';
export { DeadlineQueue } from './deadline-queue.js';
export type { QueueOutcome, QueueRefusal, QueuedWork } from './deadline-queue.js';
export { KeyedAdmission } from './keyed-admission.js';
export type { AdmissionOutcome, AdmissionRefusal, KeyedAdmissionLimits, RefusalSummary } from './keyed-admission.js';
export { PerKeyLimiter } from './per-key-limiter.js';
export type { PerKeyAdmission, PerKeyLimits, PerKeyRefusal } from './per-key-limiter.js';
export { TokenBucket } from './token-bucket.js';
export { every } from './periodic.js';
export type { Periodic } from './periodic.js';
export type { MicroBatcherOptions } from './micro-batcher.js';
export { OpsController } from './ops.controller.js';
export { closeServiceRuntime, createRuntimeFromConfig, createServiceRuntime, runtimeProviders } from './service-runtime.js';
export type { RuntimeOptions, ServiceRuntime } from './service-runtime.js';
export { CLOCK, DATA_SOURCE, LOGGER, MESSAGE_BUS, OBSERVABILITY, READINESS, SERVICE_CONFIG, systemClock } from './tokens.js';
export type { Clock } from './tokens.js';
export { ZodValidationPipe } from './zod-validation.pipe.js';
export { HostileInputPipe, MAX_INPUT_DEPTH } from './hostile-input.pipe.js';
export { describeRoutes, servedRoutes } from './route-inventory.js';
export type { RouteArgument, RouteArgumentSource, RouteDescription, ServedRoute } from './route-inventory.js';
export { EXIT_CONFIG, EXIT_USAGE, runServiceMain, type ServiceDatabase } from './service-main.js';
export { linkFromHeaders, traceContextFrom, traceHeaders } from './trace-context.js';
export { DomainError } from './domain-error.js';
export { InvalidRequestError } from './invalid-request.error.js';
export { AccessDeniedError, CredentialCheckUnavailableError, UnauthenticatedError } from './access/access-errors.js';
export { HttpErrorFilter } from './http-error.filter.js';
export { TenantTokenGuard } from './tenant-token.guard.js';
export type { TenantPrincipal } from './tenant-token.guard.js';
export {
  ACCESS_REQUIREMENT,
  Public,
  Requires,
  bearerTokenOf,
  requiredAccess,
  requirementOf,
  roleSatisfies,
  tenantRoleNeeded,
} from './access/access.js';
export type { AccessRequirement, RequiredAccess, TenantRole } from './access/access.js';
export { RevocationWatcher } from './revocation-watcher.js';
