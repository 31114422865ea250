import type { ServiceDatabase } from '@rampart/service-kit';
import { CreateReadings1732800000000 } from './1732800000000-create-readings.js';
import { DeviceTenants1732800000001 } from './1732800000001-device-tenants.js';

/** Every migration of the telemetry schema, oldest first. */
export const telemetryMigrations = [CreateReadings1732800000000, DeviceTenants1732800000001];

/** The telemetry service's schema and migrations (`telemetry migrate` and start-up both bring it up to date). */
export const telemetryDatabase: ServiceDatabase = {
  schema: 'telemetry',
  migrations: telemetryMigrations,
  applicationName: 'rampart-telemetry',
};
