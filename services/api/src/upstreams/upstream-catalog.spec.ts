import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '@rampart/service-kit';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { RouteConflictError } from '../routing/route-table.js';
import { UpstreamCatalog } from './upstream-catalog.js';

/** A service as the catalog sees it: an HTTP server whose OpenAPI document a test can redeploy, counting its reads. */
class FakeDeploy {
  reads = 0;
  private constructor(
    private readonly server: Server,
    public paths: Record<string, string[]>,
  ) {}

  static async start(paths: Record<string, string[]>): Promise<FakeDeploy> {
    const server = createServer();
    const deploy = new FakeDeploy(server, paths);
    server.on('request', (req, res) => {
      if (req.url !== '/docs/openapi.json') return void res.writeHead(404).end();
      deploy.reads++;
      const document = {
        openapi: '3.0.0',
        paths: Object.fromEntries(
          Object.entries(deploy.paths).map(([path, methods]) => [path, Object.fromEntries(methods.map((m) => [m, { operationId: path }]))]),
        ),
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(document));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return deploy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly upstream?: string;
}

describe(UpstreamCatalog.name, () => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });

  function catalogOf(deploys: Record<string, FakeDeploy>) {
    const logs: LogLine[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(JSON.parse(chunk.toString('utf8')) as LogLine);
        done();
      },
    });
    const dispatcher = new Agent();
    open.push(dispatcher);
    const catalog = new UpstreamCatalog({
      upstreams: Object.entries(deploys).map(([name, d]) => ({ name, url: d.url })),
      dispatcher,
      timeoutMs: 2_000,
      logger: createLogger('api', 'info', destination),
      title: 't',
      description: 'd',
    });
    return { catalog, logs };
  }

  const conflictLogs = (logs: readonly LogLine[]) =>
    logs.filter((l) => l.level === 'error' && l.msg.startsWith('upstream routes left out'));

  it('keeps a route with the service that held it when a redeployed one declares it too, and serves the newcomer’s other routes', async () => {
    const attestation = await FakeDeploy.start({ '/v1/devices': ['get'] });
    const updates = await FakeDeploy.start({ '/v1/deployments': ['get', 'post'], '/v1/deployments/{id}': ['get'] });
    open.push(attestation, updates);
    const { catalog, logs } = catalogOf({ attestation, updates });
    await catalog.start();
    expect(catalog.missing()).toEqual([]);

    // attestation comes first in the configuration: before the fix, it took the route and updates lost every route.
    attestation.paths = { '/v1/devices': ['get'], '/v1/deployments/{deploymentId}': ['get'], '/v1/whoami': ['get'] };
    await catalog.discover(true);
    expect(catalog.table.match('GET', '/v1/deployments/d1')).toMatchObject({ upstream: 'updates' });
    expect(catalog.table.match('POST', '/v1/deployments')).toMatchObject({ upstream: 'updates' });
    expect(catalog.table.match('GET', '/v1/whoami')).toMatchObject({ upstream: 'attestation' });
    expect(catalog.table.match('GET', '/v1/devices')).toMatchObject({ upstream: 'attestation' });
    expect(catalog.missing()).toEqual(['attestation']);
    expect(catalog.state('attestation').problem).toBe(
      '1 route not routed, declared by another service too: GET /v1/deployments/{deploymentId} (held by updates)',
    );
    expect(catalog.state('updates').problem).toBeUndefined();
    // The merged document shows the route as the holder declares it, and the newcomer's other routes.
    expect(Object.keys(catalog.document.paths!)).toEqual(['/v1/deployments', '/v1/deployments/{id}', '/v1/devices', '/v1/whoami']);
    expect(conflictLogs(logs)).toHaveLength(1);
    expect(conflictLogs(logs)[0]).toMatchObject({ upstream: 'attestation' });
  });

  it('logs a conflict once per document, and leaves the newcomer to the periodic read instead of asking it on every discovery', async () => {
    const attestation = await FakeDeploy.start({ '/v1/devices': ['get'] });
    const updates = await FakeDeploy.start({ '/v1/deployments': ['get'] });
    open.push(attestation, updates);
    const { catalog, logs } = catalogOf({ attestation, updates });
    await catalog.start();
    attestation.paths = { '/v1/devices': ['get'], '/v1/deployments': ['get'] };
    await catalog.discover(true);
    expect(catalog.missing()).toEqual(['attestation']);

    const reads = attestation.reads;
    for (let i = 0; i < 5; i++) await catalog.discover();
    expect(attestation.reads).toBe(reads);
    for (let i = 0; i < 3; i++) await catalog.discover(true);
    expect(attestation.reads).toBe(reads + 3);
    expect(conflictLogs(logs)).toHaveLength(1);

    // A new document with the same clash is logged once more; updates is never knocked out.
    attestation.paths = { '/v1/devices': ['get', 'post'], '/v1/deployments': ['get'] };
    await catalog.discover(true);
    await catalog.discover(true);
    expect(conflictLogs(logs)).toHaveLength(2);
    expect(catalog.table.match('GET', '/v1/deployments')).toMatchObject({ upstream: 'updates' });

    // Fixed: every route served, nothing missing, said once.
    attestation.paths = { '/v1/devices': ['get', 'post'] };
    await catalog.discover(true);
    expect(catalog.missing()).toEqual([]);
    expect(catalog.state('attestation').problem).toBeUndefined();
    expect(logs.filter((l) => l.msg.startsWith('upstream route conflict resolved'))).toHaveLength(1);
  });

  it('frees a route its holder no longer declares for the service that asked for it', async () => {
    const attestation = await FakeDeploy.start({ '/v1/devices': ['get'] });
    const updates = await FakeDeploy.start({ '/v1/deployments': ['get'] });
    open.push(attestation, updates);
    const { catalog } = catalogOf({ attestation, updates });
    await catalog.start();
    attestation.paths = { '/v1/devices': ['get'], '/v1/deployments': ['get'] };
    await catalog.discover(true);
    updates.paths = { '/v1/rollouts': ['get'] };
    await catalog.discover(true);
    expect(catalog.table.match('GET', '/v1/deployments')).toMatchObject({ upstream: 'attestation' });
    expect(catalog.missing()).toEqual([]);
  });

  it('still refuses to start when two services declare the same route', async () => {
    const attestation = await FakeDeploy.start({ '/v1/devices/{id}': ['get'] });
    const updates = await FakeDeploy.start({ '/v1/devices/{deviceId}': ['get'] });
    open.push(attestation, updates);
    const { catalog } = catalogOf({ attestation, updates });
    await expect(catalog.start()).rejects.toThrow(RouteConflictError);
    await expect(catalog.start()).rejects.toThrow('GET /v1/devices/{deviceId} is declared by both attestation and updates');
  });
});
