// No imports: the CLI loads this alone (`@rampart/embedded/up-scenarios`) to list `rampart up --scenario`'s
// choices, without the platform this package otherwise brings.

/** What `rampart up --fleet` runs: steady telemetry, or the rollout demo. */
export const UP_SCENARIOS = ['telemetry', 'rollout'] as const;
export type UpScenario = (typeof UP_SCENARIOS)[number];
