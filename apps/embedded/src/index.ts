// NestJS reads decorator metadata as the services' modules load: the polyfill comes first. (The CLI, which loads this package only for the commands that run it, does not need it.)
import 'reflect-metadata';
// The embedded platform and the commands that run platform or fleet code in this process (the CLI loads them on demand).
export { startEmbeddedPlatform } from './embedded-platform.js';
export type { EmbeddedKeys, EmbeddedOptions, EmbeddedPlatform } from './embedded-platform.js';
export { startEmbeddedDatabase } from './embedded-database.js';
export { up, type UpOptions } from './commands/up.js';
export { UP_SCENARIOS, type UpScenario } from './up-scenarios.js';
export { runRolloutScenario, type RolloutReport, type RolloutScenarioOptions } from './rollout-scenario.js';
export { fleetRun, type FleetRunOptions } from './commands/fleet.js';
export { fleetPod } from './commands/fleet-pod.js';
export { initPlatformSecrets } from './commands/secrets-init.js';
export { prepareDevelopmentKeys, type DevelopmentKeys, type TokenSettings } from './development-keys.js';
export type { OutputFormat } from './output.js';
