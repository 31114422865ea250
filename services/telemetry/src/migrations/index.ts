import type { ServiceDatabase } from '@rampart/service-kit';
import { CreateReadings1732800000000 } from './1732800000000-create-readings.js';

/** Every migration of the telemetry schema, oldest first. */
export const telemetryMigrations = [CreateReadings1732800000000];

/** The telemetry service's schema and migrations (`telemetry migrate` and start-up both bring it up to date). */
export const telemetryDatabase: ServiceDatabase = {
  schema: 'telemetry',
  migrations: telemetryMigrations,
  applicationName: 'rampart-telemetry',
};
