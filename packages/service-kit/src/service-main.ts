import { z } from 'zod';
import { ConfigError, LOG_LEVELS, env, loadConfig, type Env, type LogLevel } from './config.js';
import type { DatabaseOptions } from './database.js';
import { closeOnSignals } from './signals.js';
import { createLogger, type Logger } from './logger.js';

/** Exit code for a configuration error (EX_CONFIG from sysexits.h). */
export const EXIT_CONFIG = 78;
/** Exit code for a command-line usage error (EX_USAGE). */
export const EXIT_USAGE = 64;

/** A service's own schema and migrations: what `<service> migrate` brings up to date. */
export type ServiceDatabase = Pick<DatabaseOptions, 'schema' | 'migrations' | 'applicationName'>;

const migrateEnvSchema = z.object({
  DATABASE_URL: env.url(['postgres', 'postgresql']),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
});

/**
 * `<service> migrate`: brings the service's schema up to date and exits,
 * needing only DATABASE_URL (a Helm pre-install/pre-upgrade Job runs it, so
 * new pods start on a migrated schema). Services still migrate at start-up
 * too, under the same advisory lock, so running both is harmless.
 */
async function migrate(name: string, database: ServiceDatabase): Promise<void> {
  let e: z.infer<typeof migrateEnvSchema>;
  try {
    e = loadConfig(`${name} migrate`, migrateEnvSchema, process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(EXIT_CONFIG);
  }
  const logger = createLogger(name, e.LOG_LEVEL);
  // Loaded here, not at the top: a process without a database (the API front) never loads TypeORM.
  const { openDatabase } = await import('./database.js');
  const dataSource = await openDatabase({ ...database, url: e.DATABASE_URL, poolSize: 2 }, logger);
  await dataSource.destroy();
  logger.info({ schema: database.schema }, 'schema up to date');
}

/**
 * The body of every service's `main.ts`: validate the environment (exit 78
 * naming every bad key), start, and close gracefully on SIGTERM/SIGINT.
 * With `migrate` as its argument, a service with a database only migrates.
 */
export async function runServiceMain<C extends { readonly logLevel: LogLevel }>(
  name: string,
  load: (env: Env) => C,
  // Any process that closes: a Nest service, or the API front (a plain HTTP server).
  start: (config: C, logger: Logger) => Promise<{ close(): Promise<void> }>,
  database?: ServiceDatabase,
): Promise<void> {
  const command = process.argv[2];
  if (command !== undefined) {
    if (command === 'migrate' && database !== undefined) return migrate(name, database);
    process.stderr.write(`${name}: unknown command "${command}"; the only command is ${database === undefined ? 'none' : '"migrate"'}\n`);
    process.exit(EXIT_USAGE);
  }
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
