import { DataSource, type MigrationInterface } from 'typeorm';
import type { Logger } from './logger.js';

export const DEFAULT_DB_POOL_SIZE = 10;
/** One connection holds the migration lock while another runs the migrations. */
const MIN_POOL_SIZE = 2;

export interface DatabaseOptions {
  readonly url: string;
  /** The service's own schema: no service reads another's tables. */
  readonly schema: string;
  readonly migrations: ReadonlyArray<new () => MigrationInterface>;
  readonly poolSize?: number;
  readonly applicationName: string;
}

/**
 * Opens the service's TypeORM data source and brings its schema up to date
 * with migrations, each in its own transaction. Never `synchronize`: the
 * schema changes only through reviewed migrations.
 */
export async function openDatabase(options: DatabaseOptions, logger: Logger): Promise<DataSource> {
  const dataSource = new DataSource({
    type: 'postgres',
    url: options.url,
    schema: options.schema,
    applicationName: options.applicationName,
    poolSize: Math.max(MIN_POOL_SIZE, options.poolSize ?? DEFAULT_DB_POOL_SIZE),
    synchronize: false,
    migrationsRun: false,
    migrations: [...options.migrations],
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    entities: [],
  });
  await dataSource.initialize();
  try {
    await migrateExclusively(dataSource, options.schema, logger);
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
  return dataSource;
}

/**
 * Replicas start together; without a lock two of them race to create the
 * schema and the migrations table and one fails. A session advisory lock
 * keyed by the schema lets one migrate while the others wait, then find
 * nothing left to do.
 */
async function migrateExclusively(dataSource: DataSource, schema: string, logger: Logger): Promise<void> {
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock(hashtext($1))', [`rampart.migrations.${schema}`]);
    await dataSource.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    if (applied.length > 0) logger.info({ migrations: applied.map((m) => m.name) }, 'migrations applied');
  } finally {
    await lock.query('SELECT pg_advisory_unlock(hashtext($1))', [`rampart.migrations.${schema}`]).catch(() => undefined);
    await lock.release();
  }
}
