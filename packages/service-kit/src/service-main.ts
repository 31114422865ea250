import { ConfigError, type CommonConfig, type Env } from './config.js';
import { closeOnSignals, type RunningService } from './http-service.js';
import { createLogger, type Logger } from './logger.js';

/** Exit code for a configuration error (EX_CONFIG from sysexits.h). */
export const EXIT_CONFIG = 78;

/**
 * The body of every service's `main.ts`: validate the environment (exit 78
 * naming every bad key), start, and close gracefully on SIGTERM/SIGINT.
 */
export async function runServiceMain<C extends CommonConfig>(
  name: string,
  load: (env: Env) => C,
  start: (config: C, logger: Logger) => Promise<RunningService>,
): Promise<void> {
  let config: C;
  try {
    config = load(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(EXIT_CONFIG);
  }
  const logger = createLogger(name, config.logLevel);
  const running = await start(config, logger);
  closeOnSignals(
    () => running.close(),
    (error) => logger.error({ err: error }, 'shutdown failed'),
  );
}
