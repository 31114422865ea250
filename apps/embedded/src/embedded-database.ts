import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { PgSerializer } from './pg-serializer.js';

/** Connections the embedded server multiplexes onto PGlite (queries queue per connection). */
export const EMBEDDED_DB_MAX_CONNECTIONS = 32;

export interface EmbeddedDatabase {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * PostgreSQL for the embedded mode: PGlite (Postgres compiled to WASM)
 * served over the Postgres wire protocol on a loopback port, so services
 * use the same `pg` driver and SQL as against a real server. Clients reach
 * it through `PgSerializer`, which keeps concurrent exchanges apart.
 */
export async function startEmbeddedDatabase(dataDir: string | undefined): Promise<EmbeddedDatabase> {
  const db = dataDir === undefined ? await PGlite.create() : await PGlite.create(dataDir);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: EMBEDDED_DB_MAX_CONNECTIONS });
  await server.start();
  const [host, port] = server.getServerConn().split(':');
  const serializer = new PgSerializer(host ?? '127.0.0.1', Number(port));
  const url = `postgres://postgres@127.0.0.1:${await serializer.start()}/postgres`;
  return {
    url,
    close: async () => {
      await serializer.stop();
      await server.stop();
      await db.close();
    },
  };
}
