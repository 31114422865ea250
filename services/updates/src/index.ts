export { startUpdates } from './start-updates.js';
export type { RunningUpdates } from './start-updates.js';
export { loadUpdatesConfig } from './updates.config.js';
export type { UpdatesConfig } from './updates.config.js';
