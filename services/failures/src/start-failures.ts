import { QueueGroup } from '@rampart/contracts';
import { defineService, type Logger, type MessageBus, type RunningService } from '@rampart/service-kit';
import { SpikeDetector } from './alerts/spike-detector.js';
import { loadFailuresConfig, type FailuresConfig } from './failures/failures.config.js';
import { FailureRetentionJob } from './failures/failures.jobs.js';
import { FailuresModule } from './failures/failures.module.js';
import { FailureIngest } from './ingest/failure-ingest.js';
import { FailuresRepository } from './ingest/failures.repository.js';
import { failuresDatabase } from './migrations/index.js';
import { HeartbeatIngest } from './stability/heartbeat-ingest.js';
import { StabilityRepository } from './stability/stability.repository.js';

export interface RunningFailures extends RunningService {
  readonly ingest: FailureIngest;
  readonly heartbeats: HeartbeatIngest;
  readonly stability: StabilityRepository;
  readonly spikes: SpikeDetector;
  readonly repository: FailuresRepository;
}

/** The failures service: migrations, the two stream consumers, the health answer on the bus, REST, spike alerts, retention. */
export const failuresService = defineService({
  name: 'failures',
  config: loadFailuresConfig,
  database: { ...failuresDatabase, connection: (config: FailuresConfig) => config.database },
  module: ({ runtime }) => FailuresModule.forRoot({ runtime }),
  queueGroup: QueueGroup.failures,
  openApi: { title: 'Rampart failures', description: 'Failure reports and buckets of your tenant', bearerAuth: true },
  // The consumers are stopped by FailuresLifecycle once the handlers have stopped, writing what they hold.
  afterListen: [
    { name: 'failure report consumer', run: (app) => app.get(FailureIngest).start() },
    { name: 'heartbeat consumer', run: (app) => app.get(HeartbeatIngest).start() },
  ],
  jobs: [SpikeDetector, FailureRetentionJob],
  expose: (app) => ({
    ingest: app.get(FailureIngest),
    heartbeats: app.get(HeartbeatIngest),
    stability: app.get(StabilityRepository),
    spikes: app.get(SpikeDetector),
    repository: app.get(FailuresRepository),
  }),
});

/** Starts the failures service: migrations, the two stream consumers, the health answer on the bus, ops HTTP. */
export function startFailures(config: FailuresConfig, logger: Logger, sharedBus?: MessageBus): Promise<RunningFailures> {
  return failuresService.start(config, logger, sharedBus);
}
