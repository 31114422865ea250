import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import {
  TEST_NATS_URL,
  attestationTestEnv,
  callApi,
  createTestDatabase,
  createTestPki,
  freePort,
  removeBusPrefix,
  uniqueBusPrefix,
  waitFor,
  type TestDatabase,
  type TestPki,
} from '@rampart/testing';
import { ImageSigner, encodeImage } from '@rampart/trust';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ServiceProcess,
  scrapeMetric,
  startApiProcess,
  startAttestationWithTenant,
  startFailuresProcess,
  startTelemetryProcess,
  startUpdatesProcess,
  updatesKeysEnv,
} from '../support/service-process.js';

interface Answer {
  readonly status: number;
  readonly type: string | null;
  readonly text: string;
}

async function get(base: string, path: string, token?: string): Promise<Answer> {
  const response = await fetch(`${base}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

/** A GET with the path sent exactly as written (fetch would resolve `..` before sending it). */
function rawGet(base: string, path: string, token: string): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    request({ hostname, port, path, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? null, text }));
    })
      .on('error', reject)
      .end();
  });
}

/** Peak resident memory of a process (VmHWM), in bytes. */
async function peakResidentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/**
 * The API front in front of the real services, each its own process on real
 * PostgreSQL and NATS: every service's routes answer through the one URL as
 * they answer directly, the merged document holds every upstream's paths, an
 * upload streams through, and a service that goes down is named in a 503
 * until it comes back.
 */
describe('API front: one base URL for every service', () => {
  let db: TestDatabase;
  let pki: TestPki;
  const prefix = uniqueBusPrefix('front');
  const processes: ServiceProcess[] = [];
  const operatorToken = randomBytes(24).toString('hex');
  let tenantToken: string;
  let upstreams: Record<'attestation' | 'updates' | 'failures' | 'telemetry', string>;
  let common: Record<string, string>;
  let failuresPort: number;
  let front: { process: ServiceProcess; url: string };

  beforeAll(async () => {
    db = await createTestDatabase();
    pki = await createTestPki();
    common = { DATABASE_URL: db.url, NATS_URL: TEST_NATS_URL, BUS_PREFIX: prefix };
    const attestation = await startAttestationWithTenant(
      attestationTestEnv({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, pki, operatorToken }),
      operatorToken,
    );
    processes.push(attestation.process);
    tenantToken = attestation.tenantToken;
    // A fixed port, so the failures service can be stopped and started again where the front expects it.
    failuresPort = await freePort();
    const [telemetry, failures, updates] = await Promise.all([
      startTelemetryProcess('telemetry', common),
      startFailuresProcess('failures', { ...common, HTTP_PORT: String(failuresPort) }),
      // Room for an upload larger than what V8 lets pile up in freed chunks (below).
      startUpdatesProcess('updates', { ...common, ...updatesKeysEnv(pki), MAX_IMAGE_MB: '160' }),
    ]);
    processes.push(telemetry.process, failures.process, updates.process);
    upstreams = { attestation: attestation.url, updates: updates.url, failures: failures.url, telemetry: telemetry.url };
    front = await startApiProcess('api', {
      ATTESTATION_URL: upstreams.attestation,
      UPDATES_URL: upstreams.updates,
      FAILURES_URL: upstreams.failures,
      TELEMETRY_URL: upstreams.telemetry,
      DISCOVERY_INTERVAL_MS: '200',
      UPSTREAM_CONNECT_TIMEOUT_MS: '1000',
    });
    processes.push(front.process);
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await removeBusPrefix(prefix);
    await db?.drop();
    await pki?.remove();
  });

  async function documentOf(url: string): Promise<{ paths: Record<string, Record<string, unknown>> }> {
    return (await (await fetch(`${url}/docs/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  }

  it('is ready once every upstream is routed', async () => {
    const ready = await get(front.url, '/readyz');
    expect(ready.status, ready.text).toBe(200);
    expect(JSON.parse(ready.text)).toMatchObject({ ready: true, missing: [] });
  });

  it('merges every upstream’s paths and methods into /openapi.json', async () => {
    const document = (await (await fetch(`${front.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    let expected = 0;
    for (const [name, url] of Object.entries(upstreams)) {
      const own = await documentOf(url);
      for (const [path, item] of Object.entries(own.paths)) {
        // Each service's /healthz, /readyz and /metrics are its own; the front has its own.
        if (!path.startsWith('/v1/')) continue;
        for (const method of Object.keys(item)) {
          expected++;
          expect(document.paths[path]?.[method], `${name} ${method} ${path}`).toBeDefined();
        }
      }
    }
    expect(expected).toBeGreaterThan(40);
    const docs = await get(front.url, '/docs');
    expect(docs.status).toBe(200);
    expect(docs.text).toContain('swagger-ui-bundle.js');
    expect((await get(front.url, '/docs/swagger-ui-bundle.js')).status).toBe(200);
  });

  it('answers every GET route of every service as the service itself does', async () => {
    const filler = randomBytes(32).toString('hex');
    let compared = 0;
    let sameBody = 0;
    for (const [name, url] of Object.entries(upstreams)) {
      for (const [template, item] of Object.entries((await documentOf(url)).paths)) {
        if (!('get' in item) || !template.startsWith('/v1/')) continue;
        const path = template.replace(/\{[^}]+\}/g, filler);
        for (const token of [tenantToken, operatorToken]) {
          const direct = await get(url, path, token);
          const through = await get(front.url, path, token);
          const again = await get(url, path, token);
          const route = `${name} GET ${template}`;
          expect(through.status, route).toBe(direct.status);
          expect(through.type, route).toBe(direct.type);
          // An answer that changes by itself between two direct calls (an audit log of reads) is compared by status only.
          if (direct.text === again.text) {
            expect(through.text, route).toBe(direct.text);
            sameBody++;
          }
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(30);
    expect(sameBody).toBeGreaterThan(compared / 2);
  });

  it('passes writes through, and streams a large image upload without holding it', async () => {
    const product = await callApi(front.url, tenantToken, 'POST', '/v1/products', { name: 'Fronted' });
    expect(product.status).toBe(201);
    const direct = await callApi(upstreams.updates, tenantToken, 'GET', '/v1/products');
    const through = await callApi(front.url, tenantToken, 'GET', '/v1/products');
    expect(through).toEqual(direct);

    const size = 120 * 1024 * 1024;
    const image = encodeImage(
      ImageSigner.create().sign({ component: 'os', version: '9.0.0', securityVersion: 1, hardware: 'rampart-mt3620' }, randomBytes(size)),
    );
    const peakBefore = await peakResidentBytes(front.process.pid);
    const uploaded = await callApi(front.url, tenantToken, 'POST', '/v1/images', image);
    expect(uploaded.status, JSON.stringify(uploaded.body)).toBe(201);
    const peakGrowth = (await peakResidentBytes(front.process.pid)) - peakBefore;
    console.info(
      `api front: ${(image.length / 2 ** 20).toFixed(1)} MiB upload, front's peak RSS grew ${(peakGrowth / 2 ** 20).toFixed(1)} MiB`,
    );
    // Freed chunks wait for V8 to collect them (it lets tens of MiB of external memory pile up: 50-75 MiB measured
    // for 60, 200 and 400 MiB uploads alike), so a streaming front grows by a bounded amount; one that held the body
    // would grow by all of it and more. services/api/test/front.test.ts proves the streaming itself: the service
    // sees the start of a body before the client sends its end.
    expect(peakGrowth).toBeLessThan(size * 0.8);
    const listed = await callApi(front.url, tenantToken, 'GET', '/v1/images');
    expect(JSON.stringify(listed.body)).toContain((uploaded.body as { sha256: string }).sha256);
  });

  it('passes a missing token through to the service, which answers 401', async () => {
    const answer = await get(front.url, '/v1/products');
    expect(answer.status).toBe(401);
    expect(answer).toEqual(await get(upstreams.updates, '/v1/products'));
  });

  it('answers 404 JSON for an unknown /v1 path and names nothing internal', async () => {
    for (const path of ['/v1/nothing-here', '/v1/devices/x/nothing', '/v1/tenants/../tokens', '/v1', '/nothing']) {
      const answer = await rawGet(front.url, path, tenantToken);
      expect(answer.status, path).toBe(404);
      expect(JSON.parse(answer.text)).toMatchObject({ code: 'NOT_FOUND' });
      for (const [name, url] of Object.entries(upstreams)) {
        expect(answer.text).not.toContain(name);
        expect(answer.text).not.toContain(new URL(url).port);
      }
    }
    const wrongMethod = await fetch(`${front.url}/v1/products`, { method: 'DELETE', headers: { authorization: `Bearer ${tenantToken}` } });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD, POST');
  });

  it('answers 503 naming a service that is down, at once, and routes to it again when it is back', async () => {
    const failures = processes.find((p) => p.name === 'failures')!;
    await failures.stop();
    const started = performance.now();
    const down = await get(front.url, '/v1/failure-buckets', tenantToken);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(down.status).toBe(503);
    expect(JSON.parse(down.text)).toEqual({ code: 'UNAVAILABLE', message: 'the failures service is unavailable; try again shortly' });
    const notReady = await get(front.url, '/readyz');
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.text)).toMatchObject({ ready: false, missing: ['failures'] });
    // The other services still answer.
    expect((await get(front.url, '/v1/products', tenantToken)).status).toBe(200);

    const restarted = await startFailuresProcess('failures-again', { ...common, HTTP_PORT: String(failuresPort) });
    processes.push(restarted.process);
    await waitFor(async () => (await get(front.url, '/readyz')).status === 200, { timeoutMs: 10_000, describe: 'front ready again' });
    expect((await get(front.url, '/v1/failure-buckets', tenantToken)).status).toBe(200);
    expect(await scrapeMetric(front.url, 'rampart_api_upstream_errors_total', 'upstream="failures"')).toBeGreaterThanOrEqual(1);
    expect(await scrapeMetric(front.url, 'rampart_api_requests_total', 'upstream="updates"')).toBeGreaterThan(0);
  });

  it('starts while a service is not up yet, says which, and routes it once it answers', async () => {
    const telemetryPort = await freePort();
    const early = await startApiProcess('api-early', {
      ATTESTATION_URL: upstreams.attestation,
      UPDATES_URL: upstreams.updates,
      FAILURES_URL: `http://127.0.0.1:${failuresPort}`,
      TELEMETRY_URL: `http://127.0.0.1:${telemetryPort}`,
      DISCOVERY_INTERVAL_MS: '200',
    });
    processes.push(early.process);
    const notReady = await get(early.url, '/readyz');
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.text)).toMatchObject({
      missing: ['telemetry'],
      checks: { telemetry: { ok: false, error: 'not reachable: ECONNREFUSED' } },
    });
    // Anyone reaching the front may read /readyz: it names the service, not its address.
    expect(notReady.text).not.toContain(String(telemetryPort));
    // Its routes are unknown yet: the front cannot say 404, so it names the service it is waiting for.
    const waiting = await get(early.url, '/v1/telemetry/stats', tenantToken);
    expect(waiting.status).toBe(503);
    expect(JSON.parse(waiting.text)).toMatchObject({ message: 'the telemetry service is not available yet; try again shortly' });

    const telemetry = await startTelemetryProcess('telemetry-late', { ...common, HTTP_PORT: String(telemetryPort) });
    processes.push(telemetry.process);
    await waitFor(async () => (await get(early.url, '/readyz')).status === 200, { timeoutMs: 10_000, describe: 'telemetry routed' });
    const stats = await get(early.url, '/v1/telemetry/stats', tenantToken);
    expect(stats.status).toBe((await get(telemetry.url, '/v1/telemetry/stats', tenantToken)).status);
    expect(stats.status).toBeLessThan(500);
  });
});
