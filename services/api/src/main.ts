import { runServiceMain } from '@rampart/service-kit/process';
import { loadApiConfig } from './api.config.js';
import { startApi } from './start-api.js';

await runServiceMain('api', loadApiConfig, startApi);
