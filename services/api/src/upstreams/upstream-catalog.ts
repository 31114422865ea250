import type { Dispatcher } from 'undici';
import { z } from 'zod';
import type { Logger } from '@rampart/service-kit/process';
import { mergeDocuments, type OpenApiDocument } from '../openapi/merge.js';
import { RouteConflictError, RouteTable, routesOfDocument, type DeclaredRoute } from '../routing/route-table.js';

/** Where each service serves its OpenAPI document (service-kit's Swagger set-up: `docs/openapi.json`). */
export const UPSTREAM_DOCUMENT_PATH = '/docs/openapi.json';

/** The part of each service's document the front serves: its REST API. Each service's own /healthz, /readyz and /metrics stay its own. */
export const API_PREFIX = '/v1';

function apiPart(document: OpenApiDocument): OpenApiDocument {
  const paths = Object.entries(document.paths ?? {}).filter(([path]) => path === API_PREFIX || path.startsWith(`${API_PREFIX}/`));
  return { ...document, paths: Object.fromEntries(paths) };
}

/** The least an upstream's answer must be to be routed by: an object with a paths object. */
const documentSchema = z.looseObject({ paths: z.record(z.string(), z.record(z.string(), z.unknown())) });

export interface Upstream {
  readonly name: string;
  readonly url: string;
}

/** What the front knows of one upstream. */
export interface UpstreamState {
  /** Its last OpenAPI document, kept while it is down so its paths answer 503 naming it rather than 404. */
  readonly document: OpenApiDocument | undefined;
  readonly reachable: boolean;
  /** Why it is not routed or not reachable: the last error, or a route conflict. */
  readonly problem: string | undefined;
}

export interface CatalogOptions {
  readonly upstreams: readonly Upstream[];
  readonly dispatcher: Dispatcher;
  readonly timeoutMs: number;
  readonly logger: Logger;
  readonly title: string;
  readonly description: string;
}

/**
 * The upstreams, their OpenAPI documents, the routing table built from them
 * and the merged document. An upstream that does not answer is asked again by
 * `discover()` (the front calls it on a timer) and its routes join the table
 * when it answers; one the proxy finds down is marked so and asked again too,
 * so a redeployed service's routes are read afresh when it comes back.
 */
export class UpstreamCatalog {
  private readonly states = new Map<string, UpstreamState>();
  private current = RouteTable.build(new Map());
  private merged: OpenApiDocument;

  constructor(private readonly options: CatalogOptions) {
    for (const { name } of options.upstreams) this.states.set(name, { document: undefined, reachable: false, problem: 'not asked yet' });
    this.merged = this.merge();
  }

  get table(): RouteTable {
    return this.current;
  }

  get document(): OpenApiDocument {
    return this.merged;
  }

  urlOf(name: string): string {
    return this.options.upstreams.find((u) => u.name === name)!.url;
  }

  state(name: string): UpstreamState {
    return this.states.get(name)!;
  }

  /** Upstreams whose routes the front has never read: a path unknown today may be one of theirs. */
  neverSeen(): string[] {
    return [...this.states].filter(([, s]) => s.document === undefined).map(([name]) => name);
  }

  /** Not reachable, or not routed: what /readyz names. */
  missing(): string[] {
    return [...this.states].filter(([, s]) => !s.reachable || s.problem !== undefined).map(([name]) => name);
  }

  /**
   * The first read, at start-up: every upstream that answers is routed, one that does not is left for later.
   * Two upstreams declaring the same route stop the start (RouteConflictError naming both).
   */
  async start(): Promise<void> {
    const documents = await Promise.all(this.options.upstreams.map(async (u) => [u.name, await this.fetchDocument(u)] as const));
    for (const [name, fetched] of documents) this.record(name, fetched);
    this.rebuild({ strict: true });
  }

  /** Reads again each upstream that is missing (`all`: every upstream), and rebuilds the table if anything changed. */
  async discover(all = false): Promise<void> {
    const due = this.options.upstreams.filter((u) => all || this.missing().includes(u.name));
    if (due.length === 0) return;
    const fetched = await Promise.all(due.map(async (u) => [u.name, await this.fetchDocument(u)] as const));
    let changed = false;
    for (const [name, result] of fetched) changed = this.record(name, result) || changed;
    if (changed) this.rebuild({ strict: false });
  }

  /** The proxy could not reach it: /readyz says so, and discovery asks again (its routes stay, answering 503). */
  markUnreachable(name: string, reason: string): void {
    const state = this.states.get(name)!;
    if (!state.reachable) return;
    this.states.set(name, { ...state, reachable: false, problem: reason });
    this.options.logger.warn({ upstream: name, reason }, 'upstream unreachable; asking for its routes again until it answers');
  }

  private async fetchDocument(upstream: Upstream): Promise<OpenApiDocument | Error> {
    try {
      const response = await this.options.dispatcher.request({
        origin: new URL(upstream.url).origin,
        path: `${new URL(upstream.url).pathname.replace(/\/$/, '')}${UPSTREAM_DOCUMENT_PATH}`,
        method: 'GET',
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
      });
      const text = await response.body.text();
      if (response.statusCode !== 200) return new Error(`${UPSTREAM_DOCUMENT_PATH} answered ${response.statusCode}`);
      const parsed = documentSchema.safeParse(JSON.parse(text));
      if (!parsed.success) return new Error(`${UPSTREAM_DOCUMENT_PATH} is no OpenAPI document: ${parsed.error.issues[0]?.message}`);
      return apiPart(parsed.data);
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  /** Records a read; true when the routes may have changed. */
  private record(name: string, result: OpenApiDocument | Error): boolean {
    const before = this.states.get(name)!;
    if (result instanceof Error) {
      const problem = `not reachable: ${describeError(result)}`;
      if (before.reachable || before.problem !== problem) {
        this.options.logger.warn({ upstream: name, problem, url: this.urlOf(name) }, 'upstream not routed yet');
      }
      this.states.set(name, { ...before, reachable: false, problem });
      return false;
    }
    this.states.set(name, { document: result, reachable: true, problem: undefined });
    if (!before.reachable) this.options.logger.info({ upstream: name, routes: routesOfDocument(result).length }, 'upstream routed');
    return true;
  }

  /**
   * Builds the table from every upstream with a document, in configuration order. At start-up a conflict is
   * fatal; later (an upstream that came up with a route another declares) that upstream is left out and named.
   */
  private rebuild({ strict }: { strict: boolean }): void {
    const accepted = new Map<string, readonly DeclaredRoute[]>();
    let table = RouteTable.build(accepted);
    for (const { name } of this.options.upstreams) {
      const state = this.states.get(name)!;
      if (state.document === undefined) continue;
      const candidate = new Map([...accepted, [name, routesOfDocument(state.document)]]);
      try {
        table = RouteTable.build(candidate);
        accepted.set(name, candidate.get(name)!);
      } catch (error) {
        if (strict || !(error instanceof RouteConflictError)) throw error;
        this.states.set(name, { ...state, problem: `not routed: ${error.message}` });
        this.options.logger.error({ upstream: name, err: error }, 'upstream left out of the routing table');
      }
    }
    this.current = table;
    this.merged = this.merge(new Set(accepted.keys()));
  }

  private merge(routed: ReadonlySet<string> = new Set()): OpenApiDocument {
    return mergeDocuments(
      this.options.upstreams
        .filter((u) => routed.has(u.name))
        .map((u) => ({ service: u.name, document: this.states.get(u.name)!.document! })),
      { title: this.options.title, description: this.options.description },
    );
  }
}

/**
 * A connection error's code (ECONNREFUSED, UND_ERR_CONNECT_TIMEOUT …), else its message: what /readyz, which anyone
 * reaching the front may read, says. The code names no address; the logs have the upstream's URL.
 */
export function describeError(error: Error): string {
  for (const code of [(error as { cause?: { code?: unknown } }).cause?.code, (error as { code?: unknown }).code]) {
    if (typeof code === 'string' && code !== '') return code;
  }
  return error.message;
}
