import { randomBytes } from 'node:crypto';

/** The servers tests use; `.ci/run` makes sure they are running. */
export const TEST_POSTGRES_URL = process.env['TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_NATS_URL = process.env['TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';

/** A bus prefix no other test run uses, so runs can share one NATS server. */
export function uniqueBusPrefix(label = 't'): string {
  return `${label}${randomBytes(5).toString('hex')}`;
}
