import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { QueueGroup } from '@rampart/contracts';
import {
  closeServiceRuntime,
  createRuntimeFromConfig,
  openDatabase,
  startHttpService,
  systemClock,
  type Logger,
  type MessageBus,
  type RunningService,
} from '@rampart/service-kit';
import { telemetryDatabase } from './migrations/index.js';
import { IngestService } from './telemetry/ingest.service.js';
import { ReadingsRepository } from './telemetry/readings.repository.js';
import { RetentionJob } from './telemetry/retention.job.js';
import type { TelemetryConfig } from './telemetry/telemetry.config.js';
import { TelemetryModule } from './telemetry/telemetry.module.js';

export interface RunningTelemetry extends RunningService {
  readonly ingest: IngestService;
  readonly repository: ReadingsRepository;
}

/** Starts the telemetry service: migrations, the stream consumer, REST and bus queries. */
export async function startTelemetry(config: TelemetryConfig, logger: Logger, sharedBus?: MessageBus): Promise<RunningTelemetry> {
  const runtime = await createRuntimeFromConfig('telemetry', config, logger, sharedBus);
  let service: RunningService | undefined;
  try {
    runtime.dataSource = await openDatabase(
      {
        url: config.database.url,
        ...telemetryDatabase,
        poolSize: config.database.poolSize,
      },
      logger,
    );
    const repository = new ReadingsRepository(runtime.dataSource);
    runtime.readiness.register('database', () => repository.ping());
    const ingest = new IngestService(
      runtime.bus,
      repository,
      config.ingest,
      logger,
      runtime.observability.meter,
      runtime.observability.tracer,
    );
    const retention = new RetentionJob(repository, systemClock, config.retention.days, config.retention.maintenanceMs, logger);
    await retention.runOnce();
    service = await startHttpService({
      runtime,
      module: TelemetryModule.forRoot({ runtime, repository, ingest, retention }),
      host: config.http.host,
      port: config.http.port,
      queueGroup: QueueGroup.telemetry,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      configure: (app) => {
        const document = SwaggerModule.createDocument(
          app,
          new DocumentBuilder().setTitle('Rampart telemetry').setVersion('1').setDescription('Device telemetry queries').build(),
        );
        SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
      },
    });
    await ingest.start();
    retention.start();
    return { ...service, ingest, repository };
  } catch (error) {
    if (service !== undefined) await service.close();
    else await closeServiceRuntime(runtime);
    throw error;
  }
}
