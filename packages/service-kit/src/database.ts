import { DataSource, type MigrationInterface } from 'typeorm';
import type { Logger } from './logger.js';

export const DEFAULT_DB_POOL_SIZE = 10;

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
    poolSize: options.poolSize ?? DEFAULT_DB_POOL_SIZE,
    synchronize: false,
    migrationsRun: false,
    migrations: [...options.migrations],
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    entities: [],
  });
  await dataSource.initialize();
  try {
    await dataSource.query(`CREATE SCHEMA IF NOT EXISTS "${options.schema}"`);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    if (applied.length > 0) logger.info({ migrations: applied.map((m) => m.name) }, 'migrations applied');
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
  return dataSource;
}
