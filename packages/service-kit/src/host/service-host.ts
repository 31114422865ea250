import type { DynamicModule, INestApplication, INestApplicationContext, Provider, Type } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { MessageBus } from '../bus/message-bus.js';
import type { CommonConfig, Env } from '../config.js';
import { openDatabase, type DatabaseOptions } from '../database.js';
import { createHttpApp, type HttpApp, type HttpAppOptions } from '../http-service.js';
import type { Logger } from '../logger.js';
import type { Periodic } from '../periodic.js';
import { runServiceMain, type ServiceDatabase } from '../service-main.js';
import { closeServiceRuntime, createRuntimeFromConfig, runtimeProviders, type ServiceRuntime } from '../service-runtime.js';
import { SERVICE_CONFIG } from '../tokens.js';
import { startJob, type Job } from './job.js';
import { mountOpenApi, type OpenApiInfo } from './open-api.js';

/** What the service kit needs of a service's configuration. */
export type HostedConfig = CommonConfig;

/** The service's own schema and migrations, and where its configuration says the database is. */
export interface HostedDatabase<C> extends ServiceDatabase {
  readonly connection: (config: C) => { readonly url: string; readonly poolSize?: number };
}

/** What a descriptor's module and steps are built from. */
export interface HostContext<C> {
  readonly config: C;
  readonly runtime: ServiceRuntime;
  readonly logger: Logger;
}

/**
 * One thing a service starts around its HTTP port (a consumer, a listener,
 * a first policy run). `undo`, when the step needs one, runs on close and on
 * a failed start after the step ran, before Nest's own shutdown hooks.
 */
export interface StartupStep<C = unknown> {
  readonly name: string;
  run(app: INestApplicationContext, context: HostContext<C>): Promise<unknown> | void;
  undo?(app: INestApplicationContext): Promise<void> | void;
}

/** A service as the host runs it: config, database, module, OpenAPI, jobs and the steps around listening. */
export interface ServiceDescriptor<C extends HostedConfig, R extends object> {
  readonly name: string;
  /** Validates the environment into the service's configuration (its `main` exits 78 naming every bad key). */
  readonly config: (env: Env) => C;
  /** Opened and migrated before Nest starts; the host registers its `database` readiness probe. */
  readonly database?: HostedDatabase<C>;
  /**
   * The root module. The host adds the runtime's providers (LOGGER, OBSERVABILITY, READINESS, MESSAGE_BUS,
   * DATA_SOURCE, CLOCK), SERVICE_CONFIG and the jobs, so the module's factories can inject them.
   */
  readonly module: (context: HostContext<C>) => DynamicModule | Promise<DynamicModule>;
  /** Answer `@MessagePattern` requests on the bus in this queue group. */
  readonly queueGroup?: string;
  /** Served at /docs, its document at /docs/openapi.json. */
  readonly openApi?: OpenApiInfo;
  /** Adjusts the app before it listens (a body parser, say). */
  readonly configure?: (app: INestApplication, config: C) => void;
  /** Run in order once the app exists, before the HTTP port opens. */
  readonly beforeListen?: ReadonlyArray<StartupStep<C>>;
  /** Run in order once the HTTP port is open, before the jobs start. */
  readonly afterListen?: ReadonlyArray<StartupStep<C>>;
  /** Periodic loops, started in this order after the steps; the host provides those the module does not. */
  readonly jobs?: ReadonlyArray<Type<Job>>;
  /** What the running service shows its caller besides `app`, `url` and `close` (tests, the embedded mode). */
  readonly expose: (app: INestApplicationContext, context: HostContext<C>) => R;
}

export interface RunningService {
  readonly app: INestApplication;
  readonly url: string;
  /** Stops taking work, drains, closes every resource; idempotent. */
  close(): Promise<void>;
}

/** The parts of the world the host opens; a unit test replaces them to fail a start at any step. */
export interface HostPorts {
  openRuntime(name: string, config: CommonConfig, logger: Logger, sharedBus?: MessageBus): Promise<ServiceRuntime>;
  /** Marks readiness down, drains an owned bus, closes the pool (`runtime.dataSource`) and telemetry. */
  closeRuntime(runtime: ServiceRuntime): Promise<void>;
  openDatabase(options: DatabaseOptions, logger: Logger): Promise<DataSource>;
  createApp(options: HttpAppOptions): Promise<HttpApp>;
  startJob(job: Job): Periodic;
}

export const DEFAULT_HOST_PORTS: HostPorts = {
  openRuntime: createRuntimeFromConfig,
  closeRuntime: closeServiceRuntime,
  openDatabase,
  createApp: createHttpApp,
  startJob,
};

export interface ServiceDefinition<C extends HostedConfig, R extends object> {
  readonly name: string;
  /** Starts the service; `sharedBus` in the embedded mode. On a failed start, what was opened is closed again. */
  start(config: C, logger: Logger, sharedBus?: MessageBus): Promise<RunningService & R>;
  /** The body of the service's `main.ts`: validate the environment, start, close on SIGTERM/SIGINT (or `migrate`). */
  main(): Promise<void>;
}

/** One service host for every Nest service: each `start-*.ts` is a descriptor handed to this. */
export function defineService<C extends HostedConfig, R extends object>(
  descriptor: ServiceDescriptor<C, R>,
  ports: HostPorts = DEFAULT_HOST_PORTS,
): ServiceDefinition<C, R> {
  const start = (config: C, logger: Logger, sharedBus?: MessageBus): Promise<RunningService & R> =>
    startService(descriptor, ports, config, logger, sharedBus);
  const database = descriptor.database;
  return {
    name: descriptor.name,
    start,
    main: () =>
      runServiceMain(
        descriptor.name,
        descriptor.config,
        start,
        database === undefined
          ? undefined
          : { schema: database.schema, migrations: database.migrations, applicationName: database.applicationName },
      ),
  };
}

/** Something opened during start, closed again in reverse order. */
interface Opened {
  readonly what: string;
  close(): Promise<void> | void;
}

async function startService<C extends HostedConfig, R extends object>(
  descriptor: ServiceDescriptor<C, R>,
  ports: HostPorts,
  config: C,
  logger: Logger,
  sharedBus: MessageBus | undefined,
): Promise<RunningService & R> {
  const runtime = await ports.openRuntime(descriptor.name, config, logger, sharedBus);
  const context: HostContext<C> = { config, runtime, logger };
  // The runtime closes last; it also destroys the pool once opened (after the bus drains, so no handler loses it).
  const opened: Opened[] = [{ what: 'runtime', close: () => ports.closeRuntime(runtime) }];
  const closeOpened = async (): Promise<void> => {
    for (const item of opened.splice(0).reverse()) {
      try {
        await item.close();
      } catch (error) {
        logger.warn({ err: error, part: item.what }, 'closing failed; closing the rest');
      }
    }
  };
  try {
    if (descriptor.database !== undefined) {
      // Before Nest, not in a provider: migrations must finish before any provider reads a table.
      const dataSource = await ports.openDatabase(
        {
          ...descriptor.database.connection(config),
          schema: descriptor.database.schema,
          migrations: descriptor.database.migrations,
          applicationName: descriptor.database.applicationName,
        },
        logger,
      );
      runtime.dataSource = dataSource;
      runtime.readiness.register('database', async () => {
        await dataSource.query('SELECT 1');
      });
    }
    const jobs = descriptor.jobs ?? [];
    const module = withHostProviders(await descriptor.module(context), runtime, config, jobs);
    const http = await ports.createApp({
      runtime,
      module,
      ...(descriptor.queueGroup === undefined ? {} : { queueGroup: descriptor.queueGroup }),
      configure: (app) => {
        descriptor.configure?.(app, config);
        if (descriptor.openApi !== undefined) mountOpenApi(app, descriptor.openApi);
      },
    });
    opened.push({ what: 'app', close: () => http.close() });
    const { app } = http;
    await runSteps(descriptor.beforeListen ?? [], app, context, opened);
    const url = await http.listen(config.http.host, config.http.port);
    await runSteps(descriptor.afterListen ?? [], app, context, opened);
    for (const type of jobs) {
      const job = app.get(type);
      const periodic = ports.startJob(job);
      opened.push({ what: `job ${job.name}`, close: () => periodic.stop() });
    }
    const exposed = descriptor.expose(app, context);
    return { ...exposed, app, url, close: closeOnce(descriptor.name, config.shutdownTimeoutMs, runtime, closeOpened) };
  } catch (error) {
    await closeOpened();
    throw error;
  }
}

async function runSteps<C>(
  steps: ReadonlyArray<StartupStep<C>>,
  app: INestApplicationContext,
  context: HostContext<C>,
  opened: Opened[],
): Promise<void> {
  for (const step of steps) {
    await step.run(app, context);
    const undo = step.undo?.bind(step);
    if (undo !== undefined) opened.push({ what: step.name, close: () => undo(app) });
  }
}

/**
 * Shutdown: readiness fails first (load balancers stop sending work), then
 * jobs stop, steps are undone and Nest closes (HTTP and bus handlers, the
 * providers' hooks), then the bus drains and pools close — all bounded by
 * `shutdownTimeoutMs`, so a bus draining toward a lost NATS node cannot keep
 * a stopping replica alive past its grace period.
 */
function closeOnce(name: string, timeoutMs: number, runtime: ServiceRuntime, closeOpened: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= (async () => {
      runtime.readiness.markShuttingDown();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          runtime.logger.warn({ timeoutMs }, 'shutdown timed out; exiting anyway');
          resolve();
        }, timeoutMs);
        timer.unref();
      });
      await Promise.race([closeOpened(), deadline]);
      clearTimeout(timer);
      runtime.logger.info(`${name} stopped`);
    })();
    return closing;
  };
}

/** The service's module with what the host provides to every service: runtime, configuration and jobs. */
function withHostProviders(
  module: DynamicModule,
  runtime: ServiceRuntime,
  config: HostedConfig,
  jobs: ReadonlyArray<Type<Job>>,
): DynamicModule {
  const own = module.providers ?? [];
  // A job the module makes with a factory (it needs values no decorator names) is the module's; the rest are classes.
  const tokens = new Set(own.map((provider) => ('provide' in provider ? provider.provide : provider)));
  const provided: Provider[] = [
    ...runtimeProviders(runtime),
    { provide: SERVICE_CONFIG, useValue: config },
    ...jobs.filter((job) => !tokens.has(job)),
  ];
  return { ...module, providers: [...provided, ...own] };
}
