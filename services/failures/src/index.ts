export { DEFAULT_CRASH_RATE_TEST, binomialUpperTail, compareCrashRates } from './health/crash-rate-test.js';
export type { Cohort, CrashRateAnswer, CrashRateTestOptions, HealthVerdict } from './health/crash-rate-test.js';
export { startFailures } from './start-failures.js';
export type { RunningFailures } from './start-failures.js';
export { failuresConfig, loadFailuresConfig } from './failures/failures.config.js';
export type { FailuresConfig, FailuresConfigInput } from './failures/failures.config.js';
export { FailuresRepository } from './ingest/failures.repository.js';
export { StabilityRepository } from './stability/stability.repository.js';
