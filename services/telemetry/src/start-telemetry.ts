import { QueueGroup } from '@rampart/contracts';
import { defineService, type Logger, type MessageBus, type RunningService } from '@rampart/service-kit';
import { telemetryDatabase } from './migrations/index.js';
import { IngestService } from './telemetry/ingest.service.js';
import { ReadingsRepository } from './telemetry/readings.repository.js';
import { RetentionJob } from './telemetry/retention.job.js';
import { loadTelemetryConfig, type TelemetryConfig } from './telemetry/telemetry.config.js';
import { TelemetryModule } from './telemetry/telemetry.module.js';

export interface RunningTelemetry extends RunningService {
  readonly ingest: IngestService;
  readonly repository: ReadingsRepository;
}

/** The telemetry service: migrations, the stream consumer, REST and bus queries, partition maintenance. */
export const telemetryService = defineService({
  name: 'telemetry',
  config: loadTelemetryConfig,
  database: { ...telemetryDatabase, connection: (config: TelemetryConfig) => config.database },
  module: ({ runtime }) => TelemetryModule.forRoot({ runtime }),
  queueGroup: QueueGroup.telemetry,
  openApi: { title: 'Rampart telemetry', description: 'Device telemetry queries' },
  beforeListen: [
    // Today's partitions exist before the first batch arrives.
    { name: 'partition maintenance', run: (app) => app.get(RetentionJob).runOnce() },
  ],
  afterListen: [{ name: 'stream consumer', run: (app) => app.get(IngestService).start() }],
  jobs: [RetentionJob],
  expose: (app) => ({ ingest: app.get(IngestService), repository: app.get(ReadingsRepository) }),
});

/** Starts the telemetry service: migrations, the stream consumer, REST and bus queries. */
export function startTelemetry(config: TelemetryConfig, logger: Logger, sharedBus?: MessageBus): Promise<RunningTelemetry> {
  return telemetryService.start(config, logger, sharedBus);
}
