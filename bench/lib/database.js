import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Runs `fn` with a connected client and closes it after.
 * @template T
 * @param {string} url
 * @param {(client: pg.Client) => Promise<T>} fn
 * @returns {Promise<T>}
 */
export async function withClient(url, fn) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The rows of one statement. */
export function sql(url, text, params) {
  return withClient(url, async (c) => (await c.query(text, params)).rows);
}

/** A database of its own for one benchmark run; `drop` removes it, even with connections left open. */
export async function createBenchDatabase() {
  const name = `rampart_bench_${randomBytes(5).toString('hex')}`;
  await sql(POSTGRES_URL, `CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => sql(POSTGRES_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
