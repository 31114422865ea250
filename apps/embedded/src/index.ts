// The embedded platform and the commands that run platform or fleet code in this process (the CLI loads them on demand).
export { startEmbeddedPlatform } from './embedded-platform.js';
export type { EmbeddedOptions, EmbeddedPlatform } from './embedded-platform.js';
export { startEmbeddedDatabase } from './embedded-database.js';
export { up, type UpOptions } from './commands/up.js';
export { fleetRun, type FleetRunOptions } from './commands/fleet.js';
export { fleetPod } from './commands/fleet-pod.js';
export { initPlatformSecrets } from './commands/secrets-init.js';
export type { OutputFormat } from './output.js';
