import 'reflect-metadata';
import { ConfigError, closeOnSignals, createLogger } from '@rampart/service-kit';
import { loadGatewayConfig } from './gateway/gateway.config.js';
import { startGateway } from './start-gateway.js';

try {
  const config = loadGatewayConfig(process.env);
  const logger = createLogger('gateway', config.logLevel);
  const running = await startGateway(config, logger);
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
