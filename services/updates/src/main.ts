import 'reflect-metadata';
import { runServiceMain } from '@rampart/service-kit';
import { updatesDatabase } from './migrations/index.js';
import { loadUpdatesConfig } from './updates.config.js';
import { startUpdates } from './start-updates.js';

await runServiceMain('updates', loadUpdatesConfig, startUpdates, updatesDatabase);
