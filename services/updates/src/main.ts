import 'reflect-metadata';
import { runServiceMain } from '@rampart/service-kit';
import { loadUpdatesConfig } from './updates.config.js';
import { startUpdates } from './start-updates.js';

await runServiceMain('updates', loadUpdatesConfig, startUpdates);
