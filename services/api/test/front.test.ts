import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '@rampart/service-kit';
import { waitFor } from '@rampart/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig } from '../src/api.config.js';
import { RouteConflictError } from '../src/routing/route-table.js';
import { startApi, type RunningApi } from '../src/start-api.js';

/**
 * An HTTP server that declares its routes in an OpenAPI document, as each
 * Rampart service does, and answers them with `handle`: the proxy's own
 * behaviour (headers, timeouts, streaming, aborts) needs an upstream that
 * can be told to misbehave, which the services never do on purpose.
 */
class Upstream {
  readonly seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders; bytes: number }> = [];
  /** Bytes of the request bodies received so far, as they arrive. */
  receiving = 0;
  /** Whether the last streamed response has been written to its end. */
  streamEnded = false;
  private constructor(private readonly server: Server) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  static async start(paths: Record<string, string[]>, handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<Upstream> {
    const document = {
      openapi: '3.0.0',
      paths: Object.fromEntries(Object.entries(paths).map(([path, methods]) => [path, Object.fromEntries(methods.map((m) => [m, {}]))])),
    };
    const server = createServer((req, res) => {
      if (req.url === '/docs/openapi.json')
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(document));
      // /v1/reject answers without reading the body, as a body parser over its limit does.
      if (req.url === '/v1/reject') return handle(req, res);
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        upstream.receiving += chunk.length;
      });
      req.on('end', () => upstream.seen.push({ method: req.method!, url: req.url!, headers: req.headers, bytes }));
      handle(req, res);
    });
    const upstream = new Upstream(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return upstream;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const silent = createLogger('api', 'silent');

function frontConfig(urls: Record<'attestation' | 'updates' | 'failures' | 'telemetry', string>, extra: Record<string, string> = {}) {
  return loadApiConfig({
    HTTP_PORT: '0',
    ATTESTATION_URL: urls.attestation,
    UPDATES_URL: urls.updates,
    FAILURES_URL: urls.failures,
    TELEMETRY_URL: urls.telemetry,
    DISCOVERY_INTERVAL_MS: '100',
    ...extra,
  });
}

/** A raw request, so hop-by-hop headers and exact paths go out as written. */
function raw(
  url: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer },
): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, method: options.method ?? 'GET', path: options.path, headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('the API front (startApi)', () => {
  const upstreams: Upstream[] = [];
  let front: RunningApi;
  let slow: Upstream;
  let echo: Upstream;

  beforeAll(async () => {
    echo = await Upstream.start(
      { '/v1/echo/{id}': ['get', 'post'], '/v1/stream': ['get'], '/v1/reject': ['post'], '/v1/broken': ['get'] },
      (req, res) => {
        if (req.url === '/v1/broken') {
          // A service that dies mid-request: the connection closes with no answer at all.
          req.socket.destroy();
          return;
        }
        if (req.url === '/v1/reject') {
          // The answer before the body (Node then reads the rest and drops it, as behind a body parser over its limit).
          res.writeHead(413, { 'content-type': 'application/json' }).end('{"code":"TOO_LARGE","message":"the body is over the limit"}');
          return;
        }
        if (req.url === '/v1/stream') {
          // A CSV export: chunks over time, no Content-Length.
          res.writeHead(200, {
            'content-type': 'text/csv',
            connection: 'keep-alive, x-private',
            'x-private': 'hop',
            'keep-alive': 'timeout=77',
          });
          echo.streamEnded = false;
          let n = 0;
          const timer = setInterval(() => {
            res.write(`row,${n}\n`);
            if (++n === 5) {
              clearInterval(timer);
              res.end(() => (echo.streamEnded = true));
            }
          }, 50);
          return;
        }
        req.resume();
        req.on('end', () =>
          res.writeHead(207, { 'content-type': 'application/json', 'x-upstream': 'echo' }).end(JSON.stringify({ url: req.url })),
        );
      },
    );
    slow = await Upstream.start({ '/v1/slow': ['get'] }, () => undefined);
    const plain = async (path: string) => Upstream.start({ [path]: ['get'] }, (_req, res) => res.end('{}'));
    upstreams.push(echo, slow, await plain('/v1/failures'), await plain('/v1/telemetry'));
    front = await startApi(
      frontConfig(
        { attestation: echo.url, updates: slow.url, failures: upstreams[2]!.url, telemetry: upstreams[3]!.url },
        { UPSTREAM_TIMEOUT_MS: '300' },
      ),
      silent,
    );
  });

  afterAll(async () => {
    await front?.close();
    for (const u of upstreams) await u.close();
  });

  it('passes Authorization, body, query and status through, adds X-Forwarded-*, and strips hop-by-hop headers both ways', async () => {
    const answer = await raw(front.url, {
      method: 'POST',
      path: '/v1/echo/a%2Fb?x=1&y=%20',
      headers: {
        authorization: 'Bearer rmp_secret',
        'content-type': 'application/json',
        connection: 'keep-alive, x-hop',
        'x-hop': 'must not pass',
        te: 'trailers',
        'x-forwarded-for': '203.0.113.9',
      },
      body: Buffer.from('{"a":1}'),
    });
    expect(answer.status).toBe(207);
    expect(JSON.parse(answer.text)).toEqual({ url: '/v1/echo/a%2Fb?x=1&y=%20' });
    expect(answer.headers['x-upstream']).toBe('echo');
    const seen = echo.seen.at(-1)!;
    expect(seen.method).toBe('POST');
    expect(seen.bytes).toBe(7);
    expect(seen.headers['authorization']).toBe('Bearer rmp_secret');
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe(new URL(front.url).host);
    expect(seen.headers['x-hop']).toBeUndefined();
    expect(seen.headers['te']).toBeUndefined();
  });

  it('answers Expect: 100-continue itself (as curl sends for large uploads) and forwards the body without it', async () => {
    const answer = await raw(front.url, {
      method: 'POST',
      path: '/v1/echo/continue',
      headers: { expect: '100-continue', 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(2 * 1024 * 1024, 3),
    });
    expect(answer.status).toBe(207);
    const seen = echo.seen.at(-1)!;
    expect(seen.url).toBe('/v1/echo/continue');
    expect(seen.bytes).toBe(2 * 1024 * 1024);
    expect(seen.headers['expect']).toBeUndefined();
  });

  it('streams a response as the service writes it, without its hop-by-hop headers', async () => {
    const response = await fetch(`${front.url}/v1/stream`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-private')).toBeNull();
    expect(response.headers.get('keep-alive')).not.toBe('timeout=77');
    const reader = response.body!.getReader();
    const first = await reader.read();
    // The first row arrives while the service is still writing the rest.
    expect(new TextDecoder().decode(first.value)).toBe('row,0\n');
    expect(echo.streamEnded).toBe(false);
    let text = new TextDecoder().decode(first.value);
    for (let next = await reader.read(); !next.done; next = await reader.read()) text += new TextDecoder().decode(next.value);
    expect(text).toBe('row,0\nrow,1\nrow,2\nrow,3\nrow,4\n');
  });

  it('streams an upload through: the service receives its start before the client has sent its end', async () => {
    const size = 32 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 7);
    const { hostname, port } = new URL(front.url);
    const received = echo.receiving;
    const req = request({ hostname, port, method: 'POST', path: '/v1/echo/big', headers: { 'content-length': String(size) } });
    const answered = new Promise<number>((resolve, reject) => {
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
    });
    const send = async (bytes: number): Promise<void> => {
      for (let sent = 0; sent < bytes; sent += chunk.length) {
        if (!req.write(chunk)) await new Promise((resolve) => req.once('drain', resolve));
      }
    };
    await send(size / 2);
    // A front that buffered the body would hold all of this back until the end: the service would see nothing yet.
    await waitFor(() => echo.receiving - received >= size / 4, { timeoutMs: 10_000, describe: 'the first half reaching the service' });
    await send(size / 2);
    req.end();
    expect(await answered).toBe(207);
    expect(echo.seen.at(-1)!.bytes).toBe(size);
  });

  it('hands the client an answer the service gives before reading the whole body (413), not a reset', async () => {
    const size = 16 * 1024 * 1024;
    for (let attempt = 0; attempt < 3; attempt++) {
      const answer = await raw(front.url, { method: 'POST', path: '/v1/reject', body: Buffer.alloc(size, 1) });
      expect(answer.status).toBe(413);
      expect(answer.text).toBe('{"code":"TOO_LARGE","message":"the body is over the limit"}');
    }
  });

  it('answers 504 naming the service when it does not answer in time, and 404 or 405 for what no service serves', async () => {
    const started = performance.now();
    const timedOut = await raw(front.url, { path: '/v1/slow' });
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(timedOut.status).toBe(504);
    expect(JSON.parse(timedOut.text)).toEqual({ code: 'TIMEOUT', message: 'the updates service did not answer within 300 ms' });
    const unknown = await raw(front.url, { path: '/v1/nothing' });
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.text)).toEqual({ code: 'NOT_FOUND', message: 'Cannot GET /v1/nothing' });
    const wrongMethod = await raw(front.url, { method: 'DELETE', path: '/v1/echo/1' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers['allow']).toBe('GET, HEAD, POST');
    expect(JSON.parse(wrongMethod.text)).toEqual({ code: 'METHOD', message: 'Cannot DELETE /v1/echo/1' });
    // Absolute-form is a forward proxy's request: refused.
    const proxyForm = await raw(front.url, { path: `${echo.url}/v1/echo/1` });
    expect(proxyForm.status).toBe(400);
    expect(JSON.parse(proxyForm.text)).toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('answers 502 BAD_GATEWAY naming the service when its answer breaks off before it starts', async () => {
    const broken = await raw(front.url, { path: '/v1/broken' });
    expect(broken.status).toBe(502);
    expect(JSON.parse(broken.text)).toEqual({ code: 'BAD_GATEWAY', message: "the attestation service's answer failed" });
  });

  it('counts requests by upstream and status class, and upstream errors by kind', async () => {
    const metrics = await (await fetch(`${front.url}/metrics`)).text();
    expect(metrics).toMatch(/rampart_api_requests_total\{upstream="attestation",method="POST",status="2xx"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/rampart_api_requests_total\{upstream="none",method="GET",status="4xx"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/rampart_api_upstream_errors_total\{upstream="updates",kind="timeout"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/rampart_api_upstream_up\{upstream="telemetry"[^}]*\} 1/);
  });
});

describe('the API front at start-up', () => {
  const upstreams: Upstream[] = [];
  afterEach(async () => {
    for (const u of upstreams.splice(0)) await u.close();
  });

  it('refuses to start when two services declare the same method and path, naming both', async () => {
    const ok = (path: string) => Upstream.start({ [path]: ['get'] }, (_req, res) => res.end());
    upstreams.push(await ok('/v1/devices'), await ok('/v1/devices'), await ok('/v1/a'), await ok('/v1/b'));
    const start = startApi(
      frontConfig({
        attestation: upstreams[0]!.url,
        telemetry: upstreams[1]!.url,
        updates: upstreams[2]!.url,
        failures: upstreams[3]!.url,
      }),
      silent,
    );
    await expect(start).rejects.toThrow(RouteConflictError);
    await expect(start).rejects.toThrow('GET /v1/devices is declared by both attestation and telemetry');
  });

  it('names the bad keys of its configuration', () => {
    expect(() => loadApiConfig({ ATTESTATION_URL: 'ftp://x', HTTP_PORT: 'eighty' })).toThrow(
      /api: invalid configuration: HTTP_PORT: .*ATTESTATION_URL: must be a http or https URL.*UPDATES_URL/,
    );
  });
});
