/**
 * What any Rampart process needs without NestJS, TypeORM or the bus: its
 * configuration, logs, observability, readiness, timers and main. The API
 * front imports only this, so it starts in a fraction of a Nest service's
 * time and memory; `@rampart/service-kit` re-exports all of it.
 */
export { ConfigError, DEFAULT_HTTP_HOST, DEFAULT_SHUTDOWN_TIMEOUT_MS, LOG_LEVELS, buildConfig, env, loadConfig } from './config.js';
export type { ConfigInput, ConfigIssue, Env, LogLevel } from './config.js';
export { freeLoopbackPort } from './free-port.js';
export { Readiness } from './health.js';
export type { ReadinessProbe, ReadinessReport } from './health.js';
export { createLogger } from './logger.js';
export type { Logger } from './logger.js';
export { Observability } from './observability.js';
export type { ObservabilityOptions } from './observability.js';
export { every } from './periodic.js';
export type { Periodic } from './periodic.js';
export { EXIT_CONFIG, EXIT_USAGE, runServiceMain } from './service-main.js';
export { closeOnSignals } from './signals.js';
