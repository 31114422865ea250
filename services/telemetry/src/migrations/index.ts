import { CreateReadings1732800000000 } from './1732800000000-create-readings.js';

/** Every migration of the telemetry schema, oldest first. */
export const telemetryMigrations = [CreateReadings1732800000000];
