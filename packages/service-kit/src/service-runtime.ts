import type { Provider } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { CLOCK, DATA_SOURCE, LOGGER, MESSAGE_BUS, OBSERVABILITY, READINESS, systemClock } from './tokens.js';
import { InProcessBus } from './bus/in-process-bus.js';
import type { MessageBus } from './bus/message-bus.js';
import { NatsBus } from './bus/nats-bus.js';
import { Readiness } from './health.js';
import type { BusKind, CommonConfig } from './config.js';
import type { Logger } from './logger.js';
import { Observability } from './observability.js';

/**
 * What every service process holds besides its own logic: logger, metrics and
 * traces, readiness probes and the bus. Built once at start-up, closed once
 * at shutdown, in reverse order.
 */
export interface ServiceRuntime {
  readonly name: string;
  readonly logger: Logger;
  readonly observability: Observability;
  readonly readiness: Readiness;
  readonly bus: MessageBus;
  /** Whether this runtime owns the bus (and must drain it) or shares one. */
  readonly ownsBus: boolean;
  dataSource?: DataSource;
}

export interface RuntimeOptions {
  readonly name: string;
  readonly logger: Logger;
  /** `in-process` only when chosen (BUS=in-process); `nats` (the default) needs `natsUrl`. Ignored with a `sharedBus`. */
  readonly bus?: BusKind;
  readonly natsUrl?: string | undefined;
  readonly busPrefix: string;
  readonly otlpEndpoint?: string | undefined;
  readonly streamReplicas?: number;
  readonly traceSampleRatio?: number;
  /** A bus shared with other services in the same process (embedded mode). */
  readonly sharedBus?: MessageBus;
}

export async function createServiceRuntime(options: RuntimeOptions): Promise<ServiceRuntime> {
  const observability = new Observability({
    serviceName: options.name,
    otlpEndpoint: options.otlpEndpoint,
    ...(options.traceSampleRatio === undefined ? {} : { traceSampleRatio: options.traceSampleRatio }),
    onExportError: (error) => options.logger.warn({ err: error }, 'telemetry export failed'),
  });
  const readiness = new Readiness();
  let bus: MessageBus;
  let ownsBus = true;
  if (options.sharedBus !== undefined) {
    bus = options.sharedBus;
    ownsBus = false;
  } else if (options.bus !== 'in-process') {
    if (options.natsUrl === undefined) throw new Error(`${options.name}: the NATS bus needs a NATS URL (or choose the in-process bus)`);
    try {
      bus = await NatsBus.connect({
        url: options.natsUrl,
        prefix: options.busPrefix,
        name: options.name,
        streamReplicas: options.streamReplicas ?? 1,
        onError: (error) => options.logger.error({ err: error }, 'bus handler failed'),
      });
    } catch (error) {
      // Nothing else is open yet: the meter provider's export timer must not outlive the failed start.
      await observability.shutdown().catch(() => undefined);
      throw error;
    }
  } else {
    bus = new InProcessBus(options.busPrefix);
  }
  return { name: options.name, logger: options.logger, observability, readiness, bus, ownsBus };
}

/** The runtime of a service from its validated configuration; `sharedBus` in embedded mode. */
export function createRuntimeFromConfig(
  name: string,
  config: CommonConfig,
  logger: Logger,
  sharedBus?: MessageBus,
): Promise<ServiceRuntime> {
  return createServiceRuntime({
    name,
    logger,
    bus: config.bus,
    natsUrl: config.natsUrl,
    busPrefix: config.busPrefix,
    otlpEndpoint: config.otlpEndpoint,
    streamReplicas: config.streamReplicas,
    traceSampleRatio: config.traceSampleRatio,
    ...(sharedBus === undefined ? {} : { sharedBus }),
  });
}

export async function closeServiceRuntime(runtime: ServiceRuntime): Promise<void> {
  runtime.readiness.markShuttingDown();
  if (runtime.ownsBus) await runtime.bus.drain().catch((error: unknown) => runtime.logger.warn({ err: error }, 'bus drain failed'));
  if (runtime.dataSource?.isInitialized === true) await runtime.dataSource.destroy();
  await runtime.observability.shutdown();
}

/**
 * The providers every service module gets from its runtime; DATA_SOURCE only
 * once the runtime's database is open (the host opens it before Nest starts).
 */
export function runtimeProviders(runtime: ServiceRuntime): Provider[] {
  return [
    { provide: LOGGER, useValue: runtime.logger },
    { provide: OBSERVABILITY, useValue: runtime.observability },
    { provide: READINESS, useValue: runtime.readiness },
    { provide: MESSAGE_BUS, useValue: runtime.bus },
    { provide: CLOCK, useValue: systemClock },
    ...(runtime.dataSource === undefined ? [] : [{ provide: DATA_SOURCE, useValue: runtime.dataSource }]),
  ];
}
