import 'reflect-metadata';
import { telemetryService } from './start-telemetry.js';

await telemetryService.main();
