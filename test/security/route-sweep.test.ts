import { randomBytes, randomUUID } from 'node:crypto';
import { FRONT_ROUTES, loadApiConfig, startApi, type RunningApi } from '@rampart/api';
import { loadAttestationConfig, startAttestation } from '@rampart/attestation';
import { Subject } from '@rampart/contracts';
import { loadFailuresConfig, startFailures } from '@rampart/failures';
import { loadGatewayConfig, startGateway } from '@rampart/gateway';
import {
  NatsBus,
  createLogger,
  encodeJson,
  servedRoutes,
  tenantRoleNeeded,
  type AccessRequirement,
  type RunningService,
  type TenantRole,
} from '@rampart/service-kit';
import { loadTelemetryConfig, startTelemetry } from '@rampart/telemetry';
import {
  TEST_NATS_URL,
  attestationTestEnv,
  createTestDatabase,
  createTestPki,
  createTestTenants,
  removeBusPrefix,
  uniqueBusPrefix,
  waitFor,
  type TestDatabase,
  type TestPki,
} from '@rampart/testing';
import { ImageSigner, encodeImage } from '@rampart/trust';
import { loadUpdatesConfig, startUpdates } from '@rampart/updates';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayTlsEnv, updatesKeysEnv } from '../support/service-process.js';

/**
 * The route sweep: every route of every service, read from each app's HTTP
 * router (never a hand-kept list), called with no token, malformed tokens,
 * another tenant's token and a Reader's token. A route must declare what it
 * needs; one that is added without a declaration fails this test.
 */

interface Answer {
  readonly status: number;
  readonly text: string;
}

interface SweptRoute {
  readonly service: string;
  readonly url: string;
  readonly method: string;
  readonly path: string;
  readonly controller: boolean;
  readonly requirement: AccessRequirement | undefined;
}

const RANK: Readonly<Record<TenantRole, number>> = { Reader: 0, Contributor: 1, Administrator: 2 };

/** Headers that carry no valid token: missing scheme, wrong scheme, too short, too long, well-formed but unknown. */
const MALFORMED_AUTHORIZATION = [
  'Bearer',
  'Bearer ',
  'Basic YWRtaW46YWRtaW4=',
  'Bearer short',
  `Bearer ${'x'.repeat(600)}`,
  `Bearer rmp_${randomBytes(32).toString('base64url')}`,
  'Token rmp_0123456789abcdef0123',
];

/**
 * Claiming is first come, first served and permanent: a device another tenant
 * holds answers 409 to a claim (the claim's answer, by design, not a leak of
 * that tenant's data).
 */
/** The caller's own tenant's audit log. */
const AUDIT_ROUTE = '/v1/audit';
const CLAIM_ROUTE = 'PUT /v1/devices/:deviceId/claim';

describe('route sweep: every route of every service, every kind of caller', () => {
  let db: TestDatabase;
  let pki: TestPki;
  let bus: NatsBus;
  const prefix = uniqueBusPrefix('sweep');
  const services: Array<{ name: string; running: RunningService }> = [];
  let tokens: Readonly<Record<'acme' | 'globex' | 'acmeReader', string>>;
  let operator: string;
  /** What the sweep fills route parameters with: acme's own resources (`owned`) or plain selectors. */
  const params = new Map<string, { value: string; owned: boolean }>();
  /** Query strings that make a route read something of acme's. */
  const queries = new Map<string, (p: (name: string) => string) => string>([
    ['GET /v1/deployments', (p) => `groupId=${p('groupId')}`],
    ['GET /v1/device-groups', (p) => `productId=${p('productId')}`],
    ['GET /v1/stability', (p) => `component=os&deviceGroup=${p('groupId')}`],
    ['GET /v1/failure-buckets', (p) => `deviceGroup=${p('groupId')}`],
    ['GET /v1/error-reports', (p) => `deviceId=${p('deviceId')}`],
    ['GET /v1/error-reports/export', (p) => `deviceId=${p('deviceId')}`],
    ['GET /v1/devices/:deviceId/telemetry', () => 'metric=temp'],
    ['GET /v1/telemetry/aggregate', () => `metric=temp&from=${Date.now() - 3_600_000}`],
  ]);
  /** Bodies that pass validation, so another tenant's call reaches the ownership check. */
  const bodies = new Map<string, unknown>([
    ['POST /v1/devices/:deviceId/revoke', { reason: 'sweep' }],
    ['PATCH /v1/device-groups/:groupId', { updatePolicy: 'all' }],
    ['POST /v1/deployments/:id/:action', { reason: 'sweep' }],
  ]);
  /** Every identifier of acme's: none may appear in an answer to anyone else, unless the caller named it. */
  const acmeSecrets: string[] = [];
  const routes: SweptRoute[] = [];
  const counts = { routes: 0, calls: 0 };
  /** The API front, in front of the four services with a REST API. */
  let front: RunningApi;

  async function call(url: string, method: string, path: string, authorization?: string, body?: unknown): Promise<Answer> {
    counts.calls++;
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(authorization === undefined ? {} : { authorization }),
        ...(method === 'GET' || method === 'HEAD' ? {} : { 'content-type': 'application/json' }),
      },
      ...(method === 'GET' || method === 'HEAD' ? {} : { body: JSON.stringify(body ?? {}) }),
    });
    return { status: response.status, text: await response.text() };
  }

  async function acme(url: string, method: string, path: string, body?: unknown): Promise<any> {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${tokens.acme}`,
        'content-type': Buffer.isBuffer(body) ? 'application/octet-stream' : 'application/json',
      },
      ...(body === undefined ? {} : { body: Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text === '' ? undefined : JSON.parse(text);
  }

  function urlOf(name: string): string {
    return services.find((s) => s.name === name)!.running.url;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    pki = await createTestPki();
    operator = randomBytes(24).toString('hex');
    const silent = (name: string) => createLogger(name, 'silent');
    const common = { DATABASE_URL: db.url, NATS_URL: TEST_NATS_URL, BUS_PREFIX: prefix, HTTP_PORT: '0' };
    services.push({
      name: 'attestation',
      running: await startAttestation(
        loadAttestationConfig(attestationTestEnv({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, pki, operatorToken: operator })),
        silent('attestation'),
      ),
    });
    const telemetry = await startTelemetry(loadTelemetryConfig(common), silent('telemetry'));
    services.push({ name: 'telemetry', running: telemetry });
    services.push({ name: 'failures', running: await startFailures(loadFailuresConfig(common), silent('failures')) });
    services.push({
      name: 'updates',
      running: await startUpdates(
        loadUpdatesConfig({ ...common, DEVICE_HOST: '127.0.0.1', DEVICE_PORT: '0', ...updatesKeysEnv(pki) }),
        silent('updates'),
      ),
    });
    services.push({
      name: 'gateway',
      running: await startGateway(
        loadGatewayConfig({
          NATS_URL: TEST_NATS_URL,
          BUS_PREFIX: prefix,
          HTTP_PORT: '0',
          MQTT_HOST: '127.0.0.1',
          MQTT_PORT: '0',
          ...gatewayTlsEnv(pki),
        }),
        silent('gateway'),
      ),
    });
    bus = await NatsBus.connect({ url: TEST_NATS_URL, prefix, name: 'sweep-test', onError: () => undefined });
    tokens = await createTestTenants(urlOf('attestation'), operator);

    // Acme's resources in every service, for another tenant to reach for.
    const deviceId = randomBytes(32).toString('hex');
    await acme(urlOf('attestation'), 'PUT', `/v1/devices/${deviceId}/claim`);
    const now = Date.now();
    await bus.publishDurable(
      Subject.telemetryBatchReceived,
      encodeJson({ readings: [{ deviceId, tenantId: 'acme', seq: 1, ts: now, receivedAt: now, metrics: { temp: 21 } }] }),
      { msgId: `sweep:${deviceId}` },
    );
    await waitFor(async () => (await telemetry.repository.storedForDevices([deviceId])).readingsStored === 1, {
      describe: "acme's reading stored",
    });
    const signer = ImageSigner.create();
    const image = encodeImage(
      signer.sign({ component: 'os', version: '1.0.0', securityVersion: 1, hardware: 'rampart-mt3620' }, randomBytes(4096)),
    );
    const { sha256 } = (await acme(urlOf('updates'), 'POST', '/v1/images', image)) as { sha256: string };
    await acme(urlOf('updates'), 'POST', `/v1/images/${sha256}/release`, {});
    const product = (await acme(urlOf('updates'), 'POST', '/v1/products', { name: 'Swept' })) as {
      product: { id: string };
      groups: Array<{ id: string }>;
    };
    const groupId = product.groups[0]!.id;
    await acme(urlOf('updates'), 'PUT', `/v1/device-groups/${groupId}/devices/${deviceId}`);
    const deployment = (await acme(urlOf('updates'), 'POST', '/v1/deployments', { groupId, images: [sha256] })) as { id: string };
    const acmeTokens = (await acme(urlOf('attestation'), 'GET', '/v1/tokens')) as Array<{ id: string; role: string }>;
    const readerTokenId = acmeTokens.find((t) => t.role === 'Reader')!.id;

    for (const [name, value] of [
      ['deviceId', deviceId],
      ['sha256', sha256],
      ['groupId', groupId],
      ['productId', product.product.id],
      ['id', deployment.id],
      ['tokenId', readerTokenId],
    ] as const) {
      params.set(name, { value, owned: true });
      acmeSecrets.push(value);
    }
    acmeSecrets.push(...acmeTokens.map((t) => t.id), tokens.acme, tokens.acmeReader);
    params.set('action', { value: 'pause', owned: false });
    params.set('name', { value: 'targets.json', owned: false });
    params.set('component', { value: 'os', owned: false });
    params.set('tenantId', { value: 'acme', owned: false });
    // No failure bucket is seeded: another tenant must get the same 404 for one of acme's and for none.
    params.set('signature', { value: randomBytes(16).toString('hex'), owned: true });
    // The per-CA CRL is public: any well-formed CA id does.
    params.set('caId', { value: randomUUID(), owned: false });

    for (const { name, running } of services) {
      for (const route of servedRoutes(running.app)) routes.push({ service: name, url: running.url, ...route });
    }
    counts.routes = routes.length;
    front = await startApi(
      loadApiConfig({
        HTTP_PORT: '0',
        ATTESTATION_URL: urlOf('attestation'),
        UPDATES_URL: urlOf('updates'),
        FAILURES_URL: urlOf('failures'),
        TELEMETRY_URL: urlOf('telemetry'),
      }),
      silent('api'),
    );
  });

  afterAll(async () => {
    await front?.close();
    for (const { running } of services.reverse()) await running.close();
    await bus?.drain();
    await removeBusPrefix(prefix);
    await db?.drop();
    await pki?.remove();
  });

  function concrete(route: SweptRoute): { path: string; ownedParams: boolean } {
    let ownedParams = false;
    let path = route.path.replace(/:([A-Za-z0-9_]+)/g, (_match, name: string) => {
      const param = params.get(name);
      if (param === undefined) throw new Error(`${route.method} ${route.path}: the sweep has no value for :${name}; add one`);
      ownedParams ||= param.owned;
      return param.value;
    });
    const query = queries.get(`${route.method} ${route.path}`);
    if (query !== undefined) path += `?${query((name) => params.get(name)!.value)}`;
    return { path, ownedParams };
  }

  const describeRoute = (route: SweptRoute) => `${route.service} ${route.method} ${route.path}`;

  it('finds the routes of every service in their routers', () => {
    expect(new Set(routes.map((r) => r.service))).toEqual(new Set(['attestation', 'telemetry', 'failures', 'updates', 'gateway']));
    // Each service's own API, and the ops endpoints of each.
    for (const path of ['/v1/tokens', '/v1/telemetry/stats', '/v1/failure-buckets', '/v1/deployments/:id/:action', '/healthz']) {
      expect(routes.map((r) => r.path)).toContain(path);
    }
  });

  it('has every route declare what it needs; only the OpenAPI documents are served outside the controllers', () => {
    const undeclared = routes.filter((r) => r.controller && r.requirement === undefined).map(describeRoute);
    expect(undeclared).toEqual([]);
    const outside = routes.filter((r) => !r.controller).map(describeRoute);
    for (const route of outside) expect(route).toMatch(/ \/docs/);
  });

  it('answers 401 without a token, or with a malformed or unknown one, on every route that is not public (and never 5xx)', async () => {
    for (const route of routes) {
      const { path } = concrete(route);
      const open = !route.controller || route.requirement === 'Public';
      const anonymous = await call(route.url, route.method, path);
      expect(anonymous.status, describeRoute(route)).toBeLessThan(500);
      if (open) {
        expect(anonymous.status, describeRoute(route)).not.toBe(401);
        continue;
      }
      expect(anonymous.status, describeRoute(route)).toBe(401);
      // Express matches paths case-insensitively: the guard must decide on the route, not the URL text.
      const shouted = await call(route.url, route.method, path.replace(/^\/v1\//, '/V1/'));
      expect(shouted.status, `${describeRoute(route)} as /V1/`).toBe(401);
      for (const authorization of MALFORMED_AUTHORIZATION) {
        const answer = await call(route.url, route.method, path, authorization);
        expect(answer.status, `${describeRoute(route)} with "${authorization.slice(0, 20)}"`).toBe(401);
      }
    }
  });

  it('serves the front’s own routes to anyone (probes, scrapers, browsers) and never answers them with a 5xx', async () => {
    for (const route of FRONT_ROUTES) {
      const anonymous = await call(front.url, route.method, route.path);
      expect(anonymous.status, `api ${route.method} ${route.path}`).toBe(200);
      const tokened = await call(front.url, route.method, route.path, `Bearer ${tokens.globex}`);
      expect(tokened.status, `api ${route.method} ${route.path} with a token`).toBe(200);
    }
  });

  it('answers through the front as the service does: 401 without a token or with a malformed one, never a 5xx', async () => {
    let swept = 0;
    for (const route of routes) {
      if (route.service === 'gateway' || !route.path.startsWith('/v1/')) continue;
      swept++;
      const { path } = concrete(route);
      const name = `via the front: ${describeRoute(route)}`;
      const anonymous = await call(front.url, route.method, path);
      expect(anonymous.status, name).toBeLessThan(500);
      if (route.requirement === 'Public') {
        expect(anonymous.status, name).toBe((await call(route.url, route.method, path)).status);
        continue;
      }
      expect(anonymous.status, name).toBe(401);
      // The front routes by exact path: /V1/ is no route of its (404), never a way around a guard.
      expect([401, 404], `${name} as /V1/`).toContain((await call(front.url, route.method, path.replace(/^\/v1\//, '/V1/'))).status);
      for (const authorization of MALFORMED_AUTHORIZATION) {
        const answer = await call(front.url, route.method, path, authorization);
        expect(answer.status, `${name} with "${authorization.slice(0, 20)}"`).toBe(401);
      }
    }
    // Every REST route of the four services behind the front.
    expect(swept).toBe(Object.values(Object.fromEntries(front.catalog.table.routeCounts())).reduce((a, b) => a + b, 0));
  });

  it("never shows another tenant acme's resources: 404 (or 403) for each of them, and no identifier of acme's in any answer", async () => {
    // What globex has itself sent tells it nothing new: an identifier in a route's own path may come back in that
    // route's answer, and globex's audit log records every attempt so far. Everywhere else, none may appear.
    const sentSoFar = new Set<string>();
    for (const route of routes) {
      if (!route.controller || route.requirement === 'Public') continue;
      const { path, ownedParams } = concrete(route);
      const named = new Set(route.path === AUDIT_ROUTE ? sentSoFar : []);
      for (const secret of acmeSecrets) {
        if (!path.includes(secret)) continue;
        named.add(secret);
        sentSoFar.add(secret);
      }
      const answer = await call(route.url, route.method, path, `Bearer ${tokens.globex}`, bodies.get(`${route.method} ${route.path}`));
      expect(answer.status, describeRoute(route)).toBeLessThan(500);
      if (route.requirement === 'Platform') expect(answer.status, describeRoute(route)).toBe(403);
      else if (`${route.method} ${route.path}` === CLAIM_ROUTE) expect(answer.status, describeRoute(route)).toBe(409);
      else if (ownedParams) expect([403, 404], `${describeRoute(route)}: ${answer.status} ${answer.text}`).toContain(answer.status);
      for (const secret of acmeSecrets) {
        if (named.has(secret)) continue;
        expect(answer.text, `${describeRoute(route)} leaks one of acme's identifiers`).not.toContain(secret);
      }
    }
  });

  it('tells every valid token who it is on /v1/whoami, through the front too: the operator, a tenant Administrator, a Reader', async () => {
    const expected: Array<[string, unknown]> = [
      [operator, { kind: 'platform' }],
      [tokens.acme, { kind: 'tenant', tenantId: 'acme', role: 'Administrator' }],
      [tokens.acmeReader, { kind: 'tenant', tenantId: 'acme', role: 'Reader' }],
    ];
    for (const base of [urlOf('attestation'), front.url]) {
      for (const [token, identity] of expected) {
        const answer = await call(base, 'GET', '/v1/whoami', `Bearer ${token}`);
        expect(answer.status, answer.text).toBe(200);
        expect(JSON.parse(answer.text)).toEqual(identity);
      }
    }
  });

  it("answers 403 to a Reader's token on every route that needs more, and lets it read what a Reader may", async () => {
    for (const route of routes) {
      if (!route.controller || route.requirement === 'Public') continue;
      const { path } = concrete(route);
      const answer = await call(route.url, route.method, path, `Bearer ${tokens.acmeReader}`, bodies.get(`${route.method} ${route.path}`));
      expect(answer.status, describeRoute(route)).toBeLessThan(500);
      // Any token may read an `Authenticated` route (whoami); a write there needs what any write needs.
      const declared = route.requirement === 'Authenticated' ? 'Reader' : route.requirement;
      const needed = declared === 'Platform' ? undefined : tenantRoleNeeded(declared!, route.method);
      if (needed === undefined || RANK[needed] > RANK.Reader) expect(answer.status, describeRoute(route)).toBe(403);
      else expect([401, 403], `${describeRoute(route)}: ${answer.text}`).not.toContain(answer.status);
    }
  });

  afterAll(() => {
    // The closing note quotes these.
    console.info(`route sweep: ${counts.routes} routes, ${counts.calls} calls`);
  });
});
