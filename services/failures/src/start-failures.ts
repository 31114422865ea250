import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { QueueGroup } from '@rampart/contracts';
import {
  closeServiceRuntime,
  createRuntimeFromConfig,
  every,
  openDatabase,
  startHttpService,
  systemClock,
  type Logger,
  type MessageBus,
  type RunningService,
} from '@rampart/service-kit';
import type { FailuresConfig } from './failures/failures.config.js';
import { FailuresModule } from './failures/failures.module.js';
import { AlertSink } from './alerts/alert-sink.js';
import { SpikeDetector } from './alerts/spike-detector.js';
import { HealthService } from './health/health.service.js';
import { DeviceRateLimiter } from './ingest/device-rate-limiter.js';
import { FailureIngest } from './ingest/failure-ingest.js';
import { FailuresRepository } from './ingest/failures.repository.js';
import { failuresDatabase } from './migrations/index.js';
import { HeartbeatIngest } from './stability/heartbeat-ingest.js';
import { StabilityRepository } from './stability/stability.repository.js';

const RETENTION_CHECK_MS = 60 * 60 * 1000;

export interface RunningFailures extends RunningService {
  readonly ingest: FailureIngest;
  readonly heartbeats: HeartbeatIngest;
  readonly stability: StabilityRepository;
  readonly spikes: SpikeDetector;
  readonly repository: FailuresRepository;
}

/** Starts the failures service: migrations, the two stream consumers, the health answer on the bus, ops HTTP. */
export async function startFailures(config: FailuresConfig, logger: Logger, sharedBus?: MessageBus): Promise<RunningFailures> {
  const runtime = await createRuntimeFromConfig('failures', config, logger, sharedBus);
  let service: RunningService | undefined;
  try {
    runtime.dataSource = await openDatabase(
      {
        url: config.database.url,
        ...failuresDatabase,
        poolSize: config.database.poolSize,
      },
      logger,
    );
    const repository = new FailuresRepository(runtime.dataSource);
    runtime.readiness.register('database', () => repository.ping());
    const alerts = new AlertSink(runtime.bus, config.alerts.webhookUrl, logger, runtime.observability.meter);
    const ingest = new FailureIngest(
      runtime.bus,
      repository,
      new DeviceRateLimiter(config.rateLimit.perMinute, config.rateLimit.burst),
      alerts,
      config.ingest,
      systemClock,
      logger,
      runtime.observability.meter,
    );
    const stability = new StabilityRepository(runtime.dataSource);
    const heartbeats = new HeartbeatIngest(runtime.bus, stability, config.ingest, logger, runtime.observability.meter);
    service = await startHttpService({
      runtime,
      module: FailuresModule.forRoot({
        runtime,
        ingest,
        heartbeats,
        stability,
        health: new HealthService(repository, stability),
        repository,
      }),
      host: config.http.host,
      port: config.http.port,
      queueGroup: QueueGroup.failures,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      configure: (app) => {
        const document = SwaggerModule.createDocument(
          app,
          new DocumentBuilder()
            .setTitle('Rampart failures')
            .setVersion('1')
            .addBearerAuth()
            .setDescription('Failure reports and buckets of your tenant')
            .build(),
        );
        SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
      },
    });
    await ingest.start();
    await heartbeats.start();
    const spikes = new SpikeDetector(repository, alerts, config.alerts.spike, logger);
    spikes.start();
    const retention = every(
      RETENTION_CHECK_MS,
      async () => {
        const deleted = await repository.deleteOlderThan(config.retentionDays);
        const operatingRows = await stability.deleteOlderThan(config.retentionDays);
        if (deleted.reports + deleted.buckets + operatingRows > 0) {
          logger.info({ ...deleted, operatingRows, days: config.retentionDays }, 'failure data past retention deleted');
        }
      },
      (error) => logger.warn({ err: error }, 'failure report retention failed; it runs again'),
    );
    const running = service;
    return {
      ...service,
      ingest,
      heartbeats,
      stability,
      spikes,
      repository,
      close: async () => {
        retention.stop();
        spikes.stop();
        await running.close();
      },
    };
  } catch (error) {
    if (service !== undefined) await service.close();
    else await closeServiceRuntime(runtime);
    throw error;
  }
}
