import { describe, expect, it } from 'vitest';
import { RouteConflictError, RouteTable, routesOfDocument, type DeclaredRoute } from './route-table.js';

const table = (entries: Record<string, Array<[string, string]>>): RouteTable =>
  RouteTable.build(
    new Map(Object.entries(entries).map(([upstream, routes]) => [upstream, routes.map(([method, template]) => ({ method, template }))])),
  );

describe(RouteTable.name, () => {
  const routes = table({
    attestation: [
      ['GET', '/v1/devices/{deviceId}'],
      ['PUT', '/v1/devices/{deviceId}/claim'],
      ['GET', '/v1/tenants'],
      ['POST', '/v1/tenants'],
    ],
    telemetry: [
      ['GET', '/v1/devices/{deviceId}/telemetry/latest'],
      ['GET', '/v1/devices/{deviceId}/telemetry'],
      ['GET', '/v1/devices/stats'],
    ],
    updates: [['POST', '/v1/deployments/{id}/{action}']],
  });

  it('sends each path to the upstream that declares its template', () => {
    expect(routes.match('GET', '/v1/devices/abc')).toEqual({ kind: 'route', upstream: 'attestation', template: '/v1/devices/{deviceId}' });
    expect(routes.match('GET', '/v1/devices/abc/telemetry/latest')).toMatchObject({ upstream: 'telemetry' });
    expect(routes.match('POST', '/v1/deployments/d1/pause')).toMatchObject({ upstream: 'updates' });
  });

  it('prefers a literal segment to a parameter, whichever upstream declares them', () => {
    expect(routes.match('GET', '/v1/devices/stats')).toMatchObject({ upstream: 'telemetry', template: '/v1/devices/stats' });
    expect(routes.match('GET', '/v1/devices/stats/telemetry')).toMatchObject({ upstream: 'telemetry' });
  });

  it('falls back to the parameter branch when the literal branch leads nowhere', () => {
    // `stats` is literal under /v1/devices, but /v1/devices/stats/claim exists only as /v1/devices/{deviceId}/claim.
    expect(routes.match('PUT', '/v1/devices/stats/claim')).toMatchObject({ upstream: 'attestation' });
  });

  it('answers method-not-allowed with the methods the path has (HEAD with GET)', () => {
    expect(routes.match('DELETE', '/v1/tenants')).toEqual({ kind: 'method-not-allowed', allowed: ['GET', 'HEAD', 'POST'] });
    expect(routes.match('HEAD', '/v1/tenants')).toMatchObject({ kind: 'route', upstream: 'attestation' });
  });

  it('matches nothing for unknown paths, partial paths and dot segments', () => {
    expect(routes.match('GET', '/v1/nothing')).toEqual({ kind: 'none' });
    expect(routes.match('GET', '/v1/devices')).toEqual({ kind: 'none' });
    expect(routes.match('GET', '/v1/devices/abc/telemetry/latest/more')).toEqual({ kind: 'none' });
    expect(routes.match('GET', '/v1/devices/../tenants')).toEqual({ kind: 'none' });
    expect(routes.match('GET', '/v1/devices/./abc')).toEqual({ kind: 'none' });
  });

  it('ignores a trailing slash, as the services do', () => {
    expect(routes.match('GET', '/v1/tenants/')).toMatchObject({ upstream: 'attestation' });
  });

  it('refuses a method and template that two upstreams declare, naming both', () => {
    const build = () => table({ attestation: [['GET', '/v1/devices/{deviceId}']], telemetry: [['get', '/v1/devices/{id}']] });
    expect(build).toThrow(RouteConflictError);
    expect(build).toThrow('GET /v1/devices/{id} is declared by both attestation and telemetry');
  });

  it('allows two upstreams the same template with different methods', () => {
    const shared = table({ a: [['GET', '/v1/things/{id}']], b: [['DELETE', '/v1/things/{id}']] });
    expect(shared.match('DELETE', '/v1/things/1')).toMatchObject({ upstream: 'b' });
    expect(shared.match('GET', '/v1/things/1')).toMatchObject({ upstream: 'a' });
  });

  it('builds around a clash on request, the first claim keeping the route, and says who holds a route', () => {
    const { table: kept, refused } = RouteTable.buildKeeping([
      { upstream: 'updates', route: { method: 'GET', template: '/v1/deployments/{id}' } },
      { upstream: 'attestation', route: { method: 'get', template: '/v1/deployments/{deploymentId}' } },
      { upstream: 'attestation', route: { method: 'GET', template: '/v1/devices' } },
    ]);
    expect(refused.map((e) => e.message)).toEqual([
      'GET /v1/deployments/{deploymentId} is declared by both updates and attestation: each route must belong to one service',
    ]);
    expect(kept.match('GET', '/v1/deployments/1')).toMatchObject({ upstream: 'updates' });
    expect(kept.match('GET', '/v1/devices')).toMatchObject({ upstream: 'attestation' });
    expect(Object.fromEntries(kept.routeCounts())).toEqual({ updates: 1, attestation: 1 });
    expect(kept.owner({ method: 'get', template: '/v1/deployments/{other}' })).toBe('updates');
    expect(kept.owner({ method: 'POST', template: '/v1/deployments/{id}' })).toBeUndefined();
    // A route, not a request: a literal segment is not the parameter's.
    expect(kept.owner({ method: 'GET', template: '/v1/deployments/stats' })).toBeUndefined();
  });

  it('counts routes per upstream', () => {
    expect(Object.fromEntries(routes.routeCounts())).toEqual({ attestation: 4, telemetry: 3, updates: 1 });
  });
});

describe(routesOfDocument.name, () => {
  it('reads every method of every path, ignoring what is no method', () => {
    const document = {
      paths: {
        '/v1/a': { get: {}, post: {}, parameters: [], summary: 'x' },
        '/v1/b/{id}': { delete: {} },
      },
    };
    expect(routesOfDocument(document)).toEqual<DeclaredRoute[]>([
      { method: 'GET', template: '/v1/a' },
      { method: 'POST', template: '/v1/a' },
      { method: 'DELETE', template: '/v1/b/{id}' },
    ]);
  });
});
