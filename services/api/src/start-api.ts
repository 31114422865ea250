import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode } from '@rampart/contracts';
import { Agent } from 'undici';
import { Observability, Readiness, every, type Logger } from '@rampart/service-kit/process';
import { UPSTREAMS, type ApiConfig } from './api.config.js';
import { answerError, answerJson } from './http/answers.js';
import { DOCS_ASSETS, DOCS_INITIALIZER, serveDocs } from './http/docs-page.js';
import { FrontMetrics, NO_UPSTREAM } from './http/front-metrics.js';
import { RETRY_AFTER_SECONDS, forward } from './proxy/forward.js';
import { API_PREFIX, UpstreamCatalog, describeError } from './upstreams/upstream-catalog.js';

/** The front's own routes (everything else it serves is an upstream's, under /v1): all public, as probes and browsers call them. */
export const FRONT_ROUTES = [
  { method: 'GET', path: '/healthz' },
  { method: 'GET', path: '/readyz' },
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/openapi.json' },
  { method: 'GET', path: '/docs' },
  ...[DOCS_INITIALIZER, ...DOCS_ASSETS.keys()].map((name) => ({ method: 'GET', path: `/docs/${name}` })),
] as const;

export interface RunningApi {
  readonly url: string;
  readonly catalog: UpstreamCatalog;
  /** Stops taking requests, lets those in flight finish (bounded by the shutdown timeout), closes upstream connections; idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the API front: reads each upstream's OpenAPI document (those that
 * are down are asked again until they answer), then serves every service's
 * REST API on one port, the merged document at /openapi.json, Swagger UI at
 * /docs and the usual /healthz, /readyz and /metrics.
 */
export async function startApi(config: ApiConfig, logger: Logger): Promise<RunningApi> {
  const observability = new Observability({ serviceName: 'api', otlpEndpoint: config.otlpEndpoint });
  const dispatcher = new Agent({ connectTimeout: config.connectTimeoutMs });
  const catalog = new UpstreamCatalog({
    upstreams: UPSTREAMS.map((name) => ({ name, url: config.upstreams[name] })),
    dispatcher,
    timeoutMs: config.upstreamTimeoutMs,
    logger,
    title: 'Rampart API',
    description: `Every Rampart service's REST API under one base URL: ${UPSTREAMS.join(', ')}.`,
  });
  const readiness = new Readiness();
  for (const name of UPSTREAMS) {
    readiness.register(name, () => {
      const { reachable, problem } = catalog.state(name);
      return reachable && problem === undefined ? Promise.resolve() : Promise.reject(new Error(problem ?? 'not reachable'));
    });
  }
  const metrics = new FrontMetrics(observability.meter, () => new Map(UPSTREAMS.map((name) => [name, !catalog.missing().includes(name)])));
  try {
    await catalog.start();
  } catch (error) {
    await Promise.allSettled([dispatcher.close(), observability.shutdown()]);
    throw error;
  }
  const discovery = every(
    config.discoveryIntervalMs,
    () => catalog.discover(),
    (error) => logger.error({ err: error }, 'discovery failed; it runs again'),
  );
  const refresh = every(
    config.documentRefreshMs,
    () => catalog.discover(true),
    (error) => logger.error({ err: error }, 'document refresh failed; it runs again'),
  );

  /** Answers one request, telling `chose` which upstream it goes to (for the metrics) before forwarding. */
  const handle = async (req: IncomingMessage, res: ServerResponse, chose: (upstream: string) => void): Promise<void> => {
    const url = req.url ?? '';
    // Origin-form only (RFC 9112 §3.2.1): the front is no forward proxy.
    if (!url.startsWith('/')) {
      answerError(res, ErrorCode.badRequest, 'the request target must be a path');
      return;
    }
    const path = url.split('?')[0]!;
    if (path === API_PREFIX || path.startsWith(`${API_PREFIX}/`)) return route(req, res, path, chose);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      answerError(
        res,
        FRONT_ROUTES.some((r) => r.path === path) ? ErrorCode.methodNotAllowed : ErrorCode.notFound,
        `Cannot ${req.method} ${path}`,
        {
          allow: 'GET, HEAD',
        },
      );
      return;
    }
    switch (path) {
      case '/healthz':
        answerJson(res, 200, { status: 'ok' });
        break;
      case '/readyz': {
        const report = await readiness.report();
        answerJson(res, report.ready ? 200 : 503, { ...report, missing: catalog.missing() });
        break;
      }
      case '/metrics':
        observability.handleScrape(req, res);
        break;
      case '/openapi.json':
        answerJson(res, 200, catalog.document);
        break;
      default:
        if (path === '/docs' || path.startsWith('/docs/')) await serveDocs(path, res);
        else answerError(res, ErrorCode.notFound, `Cannot ${req.method} ${path}`);
    }
  };

  const route = async (req: IncomingMessage, res: ServerResponse, path: string, chose: (upstream: string) => void): Promise<void> => {
    const match = catalog.table.match(req.method ?? 'GET', path);
    switch (match.kind) {
      case 'route':
        chose(match.upstream);
        await forward(
          req,
          res,
          { name: match.upstream, url: catalog.urlOf(match.upstream) },
          {
            dispatcher,
            timeoutMs: config.upstreamTimeoutMs,
            onFailure: (upstream, failure, error) => {
              metrics.failed(upstream, failure);
              if (failure === 'unreachable') catalog.markUnreachable(upstream, `not reachable: ${describeError(error)}`);
              else logger.warn({ upstream, failure, err: error, method: req.method, route: match.template }, 'upstream request failed');
            },
          },
        );
        return;
      case 'method-not-allowed':
        answerError(res, ErrorCode.methodNotAllowed, `Cannot ${req.method} ${path}`, { allow: match.allowed.join(', ') });
        return;
      case 'none': {
        // While a service has never answered, an unknown path may be one of its: say so rather than 404.
        const unknown = catalog.neverSeen();
        if (unknown.length > 0) {
          answerError(
            res,
            ErrorCode.unavailable,
            `the ${unknown.join(', ')} service${unknown.length > 1 ? 's are' : ' is'} not available yet; try again shortly`,
            {
              'retry-after': RETRY_AFTER_SECONDS,
            },
          );
        } else {
          answerError(res, ErrorCode.notFound, `Cannot ${req.method} ${path}`);
        }
        return;
      }
    }
  };

  const server = createServer((req, res) => {
    const started = performance.now();
    // Counted when the answer is over (streamed bodies included), under the upstream the route chose.
    let upstream = NO_UPSTREAM;
    res.once('close', () => metrics.answered(upstream, req.method ?? 'GET', res.statusCode, (performance.now() - started) / 1000));
    handle(req, res, (chosen) => (upstream = chosen)).then(
      () => undefined,
      (error: unknown) => {
        logger.error({ err: error, method: req.method, url: req.url }, 'request failed');
        if (!res.headersSent) answerError(res, ErrorCode.internal, 'the API front failed to answer');
        else res.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http.port, config.http.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const url = `http://${config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host}:${address.port}`;
  const routes = Object.fromEntries(catalog.table.routeCounts());
  logger.info({ url, routes, missing: catalog.missing() }, 'api listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      readiness.markShuttingDown();
      // A discovery still reading a document finishes (within its upstream timeout) before the dispatcher it uses is destroyed.
      const loopsStopped = Promise.all([discovery.stop(), refresh.stop()]);
      const serverStopped = new Promise<void>((resolve) => server.close(() => resolve()));
      const stopped = Promise.all([serverStopped, loopsStopped]);
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          logger.warn({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; closing open connections');
          server.closeAllConnections();
          resolve();
        }, config.shutdownTimeoutMs);
        timer.unref();
      });
      await Promise.race([stopped, deadline]);
      clearTimeout(timer);
      await Promise.allSettled([dispatcher.destroy(), observability.shutdown()]);
      logger.info('api stopped');
    })();
    return closing;
  };
  return { url, catalog, close };
}
