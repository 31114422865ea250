import type { ServiceDatabase } from '@rampart/service-kit';
import { CreateFailures1733000000000 } from './1733000000000-create-failures.js';
import { Stability1733000000001 } from './1733000000001-stability.js';
import { SpikeClaims1733000000002 } from './1733000000002-spike-claims.js';

export const failuresMigrations = [CreateFailures1733000000000, Stability1733000000001, SpikeClaims1733000000002];

/** The failures service's schema and migrations (`failures migrate` and start-up both bring it up to date). */
export const failuresDatabase: ServiceDatabase = {
  schema: 'failures',
  migrations: failuresMigrations,
  applicationName: 'rampart-failures',
};
