export { DEFAULT_CRASH_RATE_TEST, binomialUpperTail, compareCrashRates } from './health/crash-rate-test.js';
export type { Cohort, CrashRateAnswer, CrashRateTestOptions, HealthVerdict } from './health/crash-rate-test.js';
