export { TEST_NATS_URL, TEST_POSTGRES_URL, uniqueBusPrefix } from './environment.js';
export { createTestDatabase, queryDatabase } from './database.js';
export type { TestDatabase } from './database.js';
export { freePort } from './ports.js';
export { createTestPki } from './pki.js';
export type { TestPki } from './pki.js';
export { waitFor } from './wait.js';
export { removeBusPrefix } from './nats-cleanup.js';
