import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Meter } from '@opentelemetry/api';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { BusTransport } from './bus/bus-transport.js';
import { HttpErrorFilter } from './http-error.filter.js';
import { HostileInputPipe } from './hostile-input.pipe.js';
import { NestPinoLogger } from './logger.js';
import type { ServiceRuntime } from './service-runtime.js';

export interface HttpAppOptions {
  readonly runtime: ServiceRuntime;
  /** The root Nest module (a dynamic module carrying the runtime's providers). */
  readonly module: unknown;
  /** Answer `@MessagePattern` requests on the bus in this queue group. */
  readonly queueGroup?: string;
  /** Adds routes and parsers before listening, e.g. OpenAPI documents. */
  readonly configure?: (app: INestApplication) => void;
}

/** A created Nest application (its providers made), neither its bus handlers nor its HTTP port answering yet. */
export interface HttpApp {
  readonly app: INestApplication;
  /** Starts answering: bus handlers first, then the HTTP port; resolves to the URL it answers on. */
  listen(host: string, port: number): Promise<string>;
  /** Stops HTTP and bus handlers and runs the providers' shutdown hooks. */
  close(): Promise<void>;
}

/**
 * Creates a service's NestJS application; the caller makes it answer when
 * what must precede that is ready (streams, consumers, a first policy run).
 * Closing it leaves the runtime (bus, pools, telemetry) to the caller.
 */
export async function createHttpApp(options: HttpAppOptions): Promise<HttpApp> {
  const { runtime } = options;
  const app = await NestFactory.create(options.module as never, {
    logger: new NestPinoLogger(runtime.logger),
    abortOnError: false,
    bufferLogs: false,
  });
  try {
    // One edge for hostile input in every service, under each route's own schema.
    app.useGlobalPipes(new HostileInputPipe());
    // One error edge in every service: the guards and pipes throw coded errors that only this filter turns into answers
    // (anything it does not know is a logged 500), so no service can start without it.
    app.useGlobalFilters(new HttpErrorFilter(runtime.logger));
    if (options.queueGroup !== undefined) {
      app.connectMicroservice<MicroserviceOptions>(
        {
          strategy: new BusTransport(
            runtime.bus,
            options.queueGroup,
            (subject, error) => runtime.logger.error({ err: error, subject }, 'request handler failed'),
            runtime.observability.tracer,
            runtime.observability.meter,
          ),
        },
        { inheritAppConfig: true },
      );
    }
    recordRequests(app, runtime.name, runtime.observability.meter);
    options.configure?.(app);
  } catch (error) {
    await app.close();
    throw error;
  }
  return {
    app,
    listen: async (host, port) => {
      if (options.queueGroup !== undefined) await app.startAllMicroservices();
      await app.listen(port, host);
      const address = (app.getHttpServer() as HttpServer).address() as AddressInfo;
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
      runtime.logger.info({ url, bus: runtime.bus.kind }, `${runtime.name} listening`);
      return url;
    },
    close: () => app.close(),
  };
}

/** Paths that answer orchestrators and scrapers, not users: not counted as API traffic. */
const OPERATIONS_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * RED metrics of the REST API: requests by method, route template and
 * status class, and their durations. The route is the matched template
 * (`/v1/devices/:id`), never the raw path, so device ids cannot explode
 * the label set; unmatched requests count as `unmatched`.
 */
function recordRequests(app: INestApplication, service: string, meter: Meter): void {
  const requests = meter.createCounter('rampart_http_requests_total', { description: 'REST requests, by route and status' });
  const duration = meter.createHistogram('rampart_http_request_duration_seconds', {
    description: 'REST request duration, by route',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] },
  });
  app.use((req: IncomingMessage & { route?: { path?: unknown } }, res: ServerResponse, next: () => void) => {
    const started = performance.now();
    res.once('finish', () => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (OPERATIONS_PATHS.has(path)) return;
      const route = typeof req.route?.path === 'string' ? req.route.path : 'unmatched';
      const attributes = { service, method: req.method ?? 'GET', route, status: `${Math.floor(res.statusCode / 100)}xx` };
      requests.add(1, attributes);
      duration.record((performance.now() - started) / 1000, attributes);
    });
    next();
  });
}
