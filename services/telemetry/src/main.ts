import 'reflect-metadata';
import { runServiceMain } from '@rampart/service-kit';
import { telemetryDatabase } from './migrations/index.js';
import { loadTelemetryConfig } from './telemetry/telemetry.config.js';
import { startTelemetry } from './start-telemetry.js';

await runServiceMain('telemetry', loadTelemetryConfig, startTelemetry, telemetryDatabase);
