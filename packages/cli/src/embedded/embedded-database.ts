import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** Connections the embedded server multiplexes onto PGlite (queries queue per connection). */
export const EMBEDDED_DB_MAX_CONNECTIONS = 32;

export interface EmbeddedDatabase {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * PostgreSQL for the embedded mode: PGlite (Postgres compiled to WASM)
 * served over the Postgres wire protocol on a loopback port, so services
 * use the same `pg` driver and SQL as against a real server.
 */
export async function startEmbeddedDatabase(dataDir: string | undefined): Promise<EmbeddedDatabase> {
  const db = dataDir === undefined ? await PGlite.create() : await PGlite.create(dataDir);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: EMBEDDED_DB_MAX_CONNECTIONS });
  await server.start();
  const url = `postgres://postgres@${server.getServerConn()}/postgres`;
  return {
    url,
    close: async () => {
      await server.stop();
      await db.close();
    },
  };
}
