export { loadTelemetryConfig, telemetryConfig, telemetryEnvSchema } from './telemetry/telemetry.config.js';
export type { TelemetryConfig, TelemetryConfigInput } from './telemetry/telemetry.config.js';
export { IngestService } from './telemetry/ingest.service.js';
export { ReadingsRepository } from './telemetry/readings.repository.js';
export { telemetryMigrations } from './migrations/index.js';
export { startTelemetry } from './start-telemetry.js';
export type { RunningTelemetry } from './start-telemetry.js';
