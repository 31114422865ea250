export { startEmbeddedPlatform } from './embedded/embedded-platform.js';
export type { EmbeddedOptions, EmbeddedPlatform } from './embedded/embedded-platform.js';
export { startEmbeddedDatabase } from './embedded/embedded-database.js';
export { parseDuration } from './embedded/duration.js';
