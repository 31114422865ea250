import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPlatform, type EmbeddedPlatform } from '@rampart/embedded';
import { createLogger, describeRoutes, type RouteArgument, type RouteDescription, type RunningService } from '@rampart/service-kit';
import {
  TEST_NATS_URL,
  createTestDatabase,
  createTestTenants,
  removeBusPrefix,
  uniqueBusPrefix,
  type TestDatabase,
} from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageSigner, encodeImage } from '@rampart/trust';
import { HOSTILE_BODIES, HOSTILE_JSON, HOSTILE_STRINGS, MISWRITTEN_NUMBERS, type HostileValue } from './hostile-values.js';

type Schema = NonNullable<RouteArgument['schema']>;

/** The schemas each service's tables live in: what a refused write must leave as it was. */
const SERVICE_SCHEMAS = ['attestation', 'updates', 'telemetry', 'failures'];

interface Answer {
  readonly status: number;
  readonly text: string;
  /** Set when the connection failed or was reset instead of answering. */
  readonly error?: string;
}

interface Finding {
  readonly service: string;
  readonly route: string;
  readonly case: string;
  readonly problem: string;
}

/** A request as the fuzz builds it: path values, query pairs (already encoded) and a body. */
interface Probe {
  readonly params: Record<string, string>;
  readonly query: ReadonlyArray<readonly [string, string]>;
  readonly body?: { readonly contentType: string; readonly data: string | Buffer };
}

/** A zod schema's own definition, through defaults, optionals, nullables and pipes. */
function innermost(schema: Schema | undefined): Record<string, unknown> | undefined {
  let current = schema as { _zod: { def: Record<string, unknown> } } | undefined;
  for (let depth = 0; current !== undefined && depth < 10; depth++) {
    const def = current._zod.def;
    if (def['type'] !== 'optional' && def['type'] !== 'nullable' && def['type'] !== 'default' && def['type'] !== 'pipe') return def;
    current = (def['innerType'] ?? def['in']) as typeof current;
  }
  return undefined;
}

/** The fields of the object a schema describes; undefined when it describes anything else. */
function objectShape(schema: Schema | undefined): Record<string, Schema> | undefined {
  const def = innermost(schema);
  return def?.['type'] === 'object' ? (def['shape'] as Record<string, Schema>) : undefined;
}

function isRequired(schema: Schema): boolean {
  return !schema.safeParse(undefined).success;
}

/**
 * Every route of every service (from each Nest application's routing
 * metadata, never a hand list), each path, query and body parameter in turn
 * given hostile values while the rest of the request stays valid, with an
 * Administrator token of the tenant (the operator's on platform routes).
 * No answer may be a 5xx or a reset connection, and a refused write must
 * leave every table as it was.
 */
describe('input fuzz: hostile values in every parameter of every route', () => {
  let db: TestDatabase;
  let dataDir: string;
  let platform: EmbeddedPlatform;
  let client: pg.Client;
  let operatorToken: string;
  let tenantToken: string;
  const prefix = uniqueBusPrefix('fuzz');
  let tables: string[] = [];

  const device = randomBytes(32).toString('hex');
  const signer = ImageSigner.create();
  /** A signed OS image: the one body a raw (binary) upload route takes. */
  const signedImage = (version: string) =>
    encodeImage(signer.sign({ component: 'os', version, securityVersion: 1, hardware: 'rampart-mt3620' }, randomBytes(1024)));
  const samples: Record<'param' | 'query' | 'body', Record<string, unknown>> = { param: {}, query: {}, body: {} };

  beforeAll(async () => {
    db = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'rampart-fuzz-'));
    platform = await startEmbeddedPlatform(
      {
        dataDir,
        databaseUrl: db.url,
        natsUrl: TEST_NATS_URL,
        busPrefix: prefix,
        mqttPort: 0,
        apiPort: 0,
        attestationApiPort: 0,
        gatewayHttpPort: 0,
        devListenerPort: undefined,
        deviceRatePerSec: 50,
      },
      (service) => createLogger(service, 'silent'),
    );
    operatorToken = (await readFile(join(dataDir, 'secrets', 'platform-operator.token'), 'utf8')).trim();
    tenantToken = (await createTestTenants(platform.attestation.url, operatorToken)).acme;
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    tables = (
      await client.query<{ name: string }>(
        `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables WHERE schemaname = ANY($1) ORDER BY 1`,
        [SERVICE_SCHEMAS],
      )
    ).rows.map((r) => r.name);

    // Valid values for every parameter name a route takes, so each hostile value is the only thing wrong with a request.
    const api = async (url: string, method: string, path: string, body?: unknown) => {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${tenantToken}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
      return (await response.json()) as Record<string, unknown>;
    };
    await api(platform.attestation.url, 'PUT', `/v1/devices/${device}/claim`);
    const product = (await api(platform.updates.url, 'POST', '/v1/products', { name: 'fuzzed' })) as {
      product: { id: string };
      groups: Array<{ id: string }>;
    };
    const groupId = product.groups[0]!.id;
    const upload = await fetch(`${platform.updates.url}/v1/images`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenantToken}`, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(signedImage('1.0.0')),
    });
    if (upload.status !== 201) throw new Error(`image upload: ${upload.status} ${await upload.text()}`);
    const { sha256 } = (await upload.json()) as { sha256: string };
    const now = new Date().toISOString();
    Object.assign(samples.param, {
      deviceId: device,
      tenantId: 'acme',
      component: 'os',
      sha256,
      name: 'timestamp.json',
      groupId,
      id: randomUUID(),
      // A well-formed CA id that names no CA: validation comes before the lookup, so every hostile value still meets it.
      caId: randomUUID(),
      tokenId: randomUUID(),
      action: 'pause',
      signature: randomBytes(16).toString('hex'),
    });
    Object.assign(samples.query, {
      component: 'os',
      metric: 'temperature_c',
      groupId,
      from: new Date(Date.now() - 3_600_000).toISOString(),
      to: now,
    });
    Object.assign(samples.body, {
      id: 'fuzzed',
      name: 'fuzzed',
      role: 'Reader',
      reason: 'fuzzed',
      stage: 'os',
      sha256,
      status: 'released',
      minVersion: 1,
      productId: product.product.id,
      groupId,
      startHour: 1,
      endHour: 2,
      // No image that could deploy: an active deployment's rollout ticks write on their own, during refused writes.
      images: [randomBytes(32).toString('hex')],
      // A TUF root's shape (POST /v1/tuf/root); this install keeps its root keys, so it is refused by state (409), never stored.
      signed: { _type: 'root' },
      signatures: [{ keyid: 'a'.repeat(64), sig: 'b'.repeat(128) }],
    });
  }, 120_000);

  afterAll(async () => {
    await client?.end();
    await platform?.close();
    await removeBusPrefix(prefix);
    await db?.drop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  /**
   * Each table of one service's schema, its rows hashed: equal fingerprints mean nothing was stored, changed or
   * deleted. Only the called service's own tables: another service's change after an accepted write arrives
   * asynchronously (a release announced to attestation) and may land during the next, refused, request.
   */
  async function fingerprint(schema: string): Promise<Map<string, string>> {
    const sql = tables
      .filter((t) => t.startsWith(`${schema}.`))
      .map((t) => `SELECT '${t}' AS name, md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) AS hash FROM ${t} x`)
      .join(' UNION ALL ');
    const rows = (await client.query<{ name: string; hash: string }>(sql)).rows;
    return new Map(rows.map((r) => [r.name, r.hash]));
  }

  function changedTables(before: Map<string, string>, after: Map<string, string>): string[] {
    return [...after].filter(([name, hash]) => before.get(name) !== hash).map(([name]) => name);
  }

  function services(): Array<{ name: string; service: RunningService }> {
    return [
      { name: 'attestation', service: platform.attestation },
      { name: 'updates', service: platform.updates },
      { name: 'telemetry', service: platform.telemetry },
      { name: 'failures', service: platform.failures },
      { name: 'gateway', service: platform.gateway },
    ];
  }

  async function send(base: string, route: RouteDescription, probe: Probe, token: string): Promise<Answer> {
    const path = route.path.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => probe.params[name] ?? '');
    const query = probe.query.map(([k, v]) => `${k}=${v}`).join('&');
    try {
      const response = await fetch(`${base}${path}${query === '' ? '' : `?${query}`}`, {
        method: route.method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(probe.body === undefined ? {} : { 'content-type': probe.body.contentType }),
        },
        ...(probe.body === undefined
          ? {}
          : { body: typeof probe.body.data === 'string' ? probe.body.data : new Uint8Array(probe.body.data) }),
      });
      return { status: response.status, text: await response.text() };
    } catch (error) {
      return { status: 0, text: '', error: String((error as Error).cause ?? error) };
    }
  }

  const encode = (value: HostileValue): string | undefined =>
    value.rawUrl ?? (value.text === undefined ? undefined : encodeURIComponent(value.text));

  function jsonBody(fields: Record<string, string>): { contentType: string; data: string } {
    const members = Object.entries(fields).map(([k, v]) => `${JSON.stringify(k)}:${v}`);
    return { contentType: 'application/json', data: `{${members.join(',')}}` };
  }

  it('answers every hostile value with a 4xx, never a 5xx or a reset, and refused writes change nothing', async () => {
    const findings: Finding[] = [];
    const unvalidated: string[] = [];
    const counts = {
      services: 0,
      routes: 0,
      parameters: 0,
      values: 0,
      requests: 0,
      refusedWrites: 0,
      byStatus: {} as Record<string, number>,
    };

    for (const { name, service } of services()) {
      counts.services++;
      const routes = describeRoutes(service.app);
      // The routing metadata and the HTTP router agree: no route escapes the fuzz.
      const registered = registeredRoutes(service);
      expect(routes.map((r) => `${r.method} ${r.path}`).sort(), `${name}: every registered route is described`).toEqual(
        expect.arrayContaining(registered),
      );

      for (const route of routes) {
        counts.routes++;
        const label = `${route.method} ${route.path}`;
        const pathArgs = route.arguments.filter((a) => a.source === 'param');
        const queryArg = route.arguments.find((a) => a.source === 'query');
        const bodyArg = route.arguments.find((a) => a.source === 'body');
        for (const arg of route.arguments) {
          if (arg.schema === undefined) unvalidated.push(`${name} ${label} ${arg.source} ${arg.name ?? ''}`);
        }
        const queryShape = objectShape(queryArg?.schema) ?? {};
        const bodyShape = objectShape(bodyArg?.schema) ?? {};

        // The valid request every case starts from.
        const params: Record<string, string> = {};
        for (const arg of pathArgs) {
          const sample = samples.param[arg.name ?? ''];
          if (typeof sample !== 'string') throw new Error(`${name} ${label}: no valid sample for path parameter ${arg.name}`);
          params[arg.name!] = encodeURIComponent(sample);
        }
        const query: Array<[string, string]> = [];
        for (const [key, schema] of Object.entries(queryShape)) {
          if (!isRequired(schema)) continue;
          const sample = samples.query[key];
          if (typeof sample !== 'string') throw new Error(`${name} ${label}: no valid sample for query parameter ${key}`);
          query.push([key, encodeURIComponent(sample)]);
        }
        const bodyFields: Record<string, string> = {};
        for (const [key, schema] of Object.entries(bodyShape)) {
          if (!isRequired(schema)) continue;
          if (!(key in samples.body)) throw new Error(`${name} ${label}: no valid sample for body field ${key}`);
          bodyFields[key] = JSON.stringify(samples.body[key]);
        }
        const takesBody = bodyArg !== undefined || (route.readsRawRequest && route.method !== 'GET');
        const body =
          bodyArg !== undefined
            ? jsonBody(bodyFields)
            : takesBody
              ? { contentType: 'application/octet-stream', data: signedImage(`2.0.${counts.routes}`) }
              : undefined;
        const baseline: Probe = { params, query, ...(body === undefined ? {} : { body }) };

        // The right token for the route: the tenant's Administrator, or the operator's where only the platform may act.
        let token = tenantToken;
        let answer = await send(service.url, route, baseline, token);
        counts.requests++;
        if (answer.status === 403) {
          token = operatorToken;
          answer = await send(service.url, route, baseline, token);
          counts.requests++;
        }
        if (answer.status >= 500 || answer.status === 0) {
          findings.push({
            service: name,
            route: label,
            case: 'the valid request',
            problem: `${answer.status} ${answer.error ?? answer.text}`,
          });
        }
        if (answer.status === 400) {
          findings.push({ service: name, route: label, case: 'the valid request', problem: `refused: ${answer.text}` });
        }

        const cases: Array<{ case: string; probe: Probe }> = [];
        for (const arg of pathArgs) {
          counts.parameters++;
          for (const value of HOSTILE_STRINGS) {
            const encoded = encode(value);
            if (encoded === undefined) continue;
            cases.push({ case: `path ${arg.name} = ${value.label}`, probe: { ...baseline, params: { ...params, [arg.name!]: encoded } } });
          }
        }
        for (const key of Object.keys(queryShape)) {
          counts.parameters++;
          const others = query.filter(([k]) => k !== key);
          for (const value of HOSTILE_STRINGS) {
            const encoded = encode(value);
            if (encoded === undefined) continue;
            cases.push({ case: `query ${key} = ${value.label}`, probe: { ...baseline, query: [...others, [key, encoded]] } });
          }
          cases.push({ case: `query ${key} repeated`, probe: { ...baseline, query: [...others, [key, '1'], [key, '2']] } });
          cases.push({ case: `query ${key} as an object`, probe: { ...baseline, query: [...others, [`${key}[a]`, '1']] } });
        }
        // Keys no route declares, whatever it takes.
        for (const extra of ['__proto__', 'constructor', '__proto__[polluted]', 'unknown']) {
          cases.push({ case: `query ${extra}`, probe: { ...baseline, query: [...query, [encodeURIComponent(extra), '1']] } });
        }
        if (bodyArg !== undefined) {
          for (const key of Object.keys(bodyShape)) {
            counts.parameters++;
            for (const value of [...HOSTILE_STRINGS, ...HOSTILE_JSON]) {
              const json = value.rawJson ?? (value.text === undefined ? undefined : JSON.stringify(value.text));
              if (json === undefined) continue;
              cases.push({ case: `body ${key} = ${value.label}`, probe: { ...baseline, body: jsonBody({ ...bodyFields, [key]: json }) } });
            }
            // One level down: each field of a nested object, and the element of an array.
            const nested = objectShape(bodyShape[key]);
            const isArray = innermost(bodyShape[key])?.['type'] === 'array';
            counts.parameters += isArray ? 1 : Object.keys(nested ?? {}).length;
            const inner = (json: string): Record<string, string>[] => {
              if (isArray) return [{ [key]: `[${json}]` }];
              if (nested === undefined) return [];
              return Object.keys(nested).map((field) => {
                const members = Object.entries(nested)
                  .filter(([k, schema]) => k !== field && isRequired(schema))
                  .map(([k]) => `${JSON.stringify(k)}:${JSON.stringify(samples.body[k])}`);
                return { [`${key}.${field}`]: `{${[...members, `${JSON.stringify(field)}:${json}`].join(',')}}` };
              });
            };
            for (const value of [...HOSTILE_STRINGS, ...HOSTILE_JSON]) {
              const json = value.rawJson ?? (value.text === undefined ? undefined : JSON.stringify(value.text));
              if (json === undefined) continue;
              for (const variant of inner(json)) {
                const [where, text] = Object.entries(variant)[0]!;
                const label = isArray ? `${key}[0]` : where;
                cases.push({
                  case: `body ${label} = ${value.label}`,
                  probe: { ...baseline, body: jsonBody({ ...bodyFields, [key]: text }) },
                });
              }
            }
          }
          cases.push({
            case: 'body with an unknown field',
            probe: { ...baseline, body: jsonBody({ ...bodyFields, unknown: '1' }) },
          });
        }
        if (takesBody) {
          for (const body of HOSTILE_BODIES) {
            cases.push({ case: `body ${body.label}`, probe: { ...baseline, body: { contentType: body.contentType, data: body.body } } });
          }
        }

        // A query parameter that takes 7 and refuses abc is a number: it must refuse 0x7, "" and the like too.
        for (const key of Object.keys(queryShape)) {
          const others = query.filter(([k]) => k !== key);
          const probe = (value: string): Probe => ({ ...baseline, query: [...others, [key, encodeURIComponent(value)]] });
          const seven = await send(service.url, route, probe('7'), token);
          const letters = await send(service.url, route, probe('abc'), token);
          counts.requests += 2;
          if (seven.status >= 300 || letters.status !== 400) continue;
          for (const value of MISWRITTEN_NUMBERS) {
            const result = await send(service.url, route, probe(value), token);
            counts.requests++;
            counts.values++;
            if (result.status !== 400) {
              findings.push({
                service: name,
                route: label,
                case: `number ${key} = ${JSON.stringify(value)}`,
                problem: `answered ${result.status}`,
              });
            }
          }
        }

        for (const c of cases) {
          counts.values++;
          const write = route.method !== 'GET' && route.method !== 'HEAD' && SERVICE_SCHEMAS.includes(name);
          const before = write ? await fingerprint(name) : undefined;
          const result = await send(service.url, route, c.probe, token);
          counts.requests++;
          counts.byStatus[String(result.status)] = (counts.byStatus[String(result.status)] ?? 0) + 1;
          if (result.status >= 500 || result.status === 0) {
            findings.push({
              service: name,
              route: label,
              case: c.case,
              problem: `${result.status} ${result.error ?? result.text.slice(0, 200)}`,
            });
          }
          if (before !== undefined && result.status >= 400) {
            counts.refusedWrites++;
            const changed = changedTables(before, await fingerprint(name));
            if (changed.length > 0) {
              findings.push({
                service: name,
                route: label,
                case: c.case,
                problem: `refused (${result.status}) but changed ${changed.join(', ')}`,
              });
            }
          }
        }
      }
    }

    // No body, however shaped, reached the prototype every object shares.
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    console.info(`input fuzz: ${JSON.stringify(counts)}`);
    expect.soft(unvalidated, 'every path, query and body argument has a schema').toEqual([]);
    expect(findings.map((f) => `${f.service} ${f.route} [${f.case}]: ${f.problem}`)).toEqual([]);
  });
});

/** The routes the HTTP server actually answers (Express's router), as `METHOD /path`; the OpenAPI pages excluded. */
function registeredRoutes(service: RunningService): string[] {
  const express = service.app.getHttpAdapter().getInstance() as {
    router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> };
  };
  const routes: string[] = [];
  for (const layer of express.router.stack) {
    if (layer.route === undefined || layer.route.path.startsWith('/docs')) continue;
    for (const [method, on] of Object.entries(layer.route.methods)) {
      if (on && method !== '_all') routes.push(`${method.toUpperCase()} ${layer.route.path}`);
    }
  }
  return routes;
}
