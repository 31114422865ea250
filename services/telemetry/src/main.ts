import 'reflect-metadata';
import { ConfigError, closeOnSignals, createLogger } from '@rampart/service-kit';
import { loadTelemetryConfig } from './telemetry/telemetry.config.js';
import { startTelemetry } from './start-telemetry.js';

try {
  const config = loadTelemetryConfig(process.env);
  const logger = createLogger('telemetry', config.logLevel);
  const running = await startTelemetry(config, logger);
  closeOnSignals(
    () => running.close(),
    (error) => logger.error({ err: error }, 'shutdown failed'),
  );
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(78);
  }
  throw error;
}
