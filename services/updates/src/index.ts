export { startUpdates } from './start-updates.js';
export type { RunningUpdates } from './start-updates.js';
export { loadUpdatesConfig, updatesConfig } from './updates.config.js';
export type { UpdatesConfig, UpdatesConfigInput } from './updates.config.js';
