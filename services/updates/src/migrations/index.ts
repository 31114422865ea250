import type { ServiceDatabase } from '@rampart/service-kit';
import { CreateUpdates1734000000000 } from './1734000000000-create-updates.js';
import { Fleet1734000000001 } from './1734000000001-fleet.js';
import { OsFeeds1734000000002 } from './1734000000002-os-feeds.js';
import { FirstOffer1734000000003 } from './1734000000003-first-offer.js';
import { ImagesPerTenant1734000000004 } from './1734000000004-images-per-tenant.js';
import { GatesFromWave1734000000005 } from './1734000000005-gates-from-wave.js';
import { TufKeysInProvider1734000000006 } from './1734000000006-tuf-keys-in-provider.js';

export const updatesMigrations = [
  CreateUpdates1734000000000,
  Fleet1734000000001,
  OsFeeds1734000000002,
  FirstOffer1734000000003,
  ImagesPerTenant1734000000004,
  GatesFromWave1734000000005,
  TufKeysInProvider1734000000006,
];

/** The updates service's schema and migrations (`updates migrate` and start-up both bring it up to date). */
export const updatesDatabase: ServiceDatabase = { schema: 'updates', migrations: updatesMigrations, applicationName: 'rampart-updates' };
