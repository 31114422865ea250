import 'reflect-metadata';
import { runServiceMain } from '@rampart/service-kit';
import { loadFailuresConfig } from './failures/failures.config.js';
import { startFailures } from './start-failures.js';

await runServiceMain('failures', loadFailuresConfig, startFailures);
