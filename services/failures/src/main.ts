import 'reflect-metadata';
import { runServiceMain } from '@rampart/service-kit';
import { failuresDatabase } from './migrations/index.js';
import { loadFailuresConfig } from './failures/failures.config.js';
import { startFailures } from './start-failures.js';

await runServiceMain('failures', loadFailuresConfig, startFailures, failuresDatabase);
