import { isDeepStrictEqual } from 'node:util';
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import type { Logger } from '@rampart/service-kit/process';
import { mergeDocuments, type OpenApiDocument } from '../openapi/merge.js';
import { RouteTable, routesOfDocument, type RouteConflictError } from '../routing/route-table.js';

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
  /** Why it is not routed, wholly or in part, or not reachable: the last error, or the routes it lost to a conflict. */
  readonly problem: string | undefined;
}

/** Names the routes an upstream was refused because another upstream holds them, by holder. */
function conflictProblem(refused: readonly RouteConflictError[]): string {
  const each = refused.map((e) => `${e.method} ${e.template} (held by ${e.upstreams[0]})`);
  return `${refused.length} route${refused.length === 1 ? '' : 's'} not routed, declared by another service too: ${each.join(', ')}`;
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
  /** Per upstream, the routes it was refused in the last rebuild (its problem while reachable). */
  private readonly conflicts = new Map<string, string>();
  /** Upstreams whose document changed since their conflict was logged: a conflict is logged once per document, not per read. */
  private readonly relog = new Set<string>();
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

  /**
   * Reads again each upstream that is missing (`all`: every upstream), and rebuilds the table if anything changed.
   * One that is missing only for a route conflict is not asked on every discovery: its answer would be the same
   * until someone redeploys it or the other service, which the periodic read of every upstream (`all`) notices.
   */
  async discover(all = false): Promise<void> {
    const due = this.options.upstreams.filter((u) => all || (this.missing().includes(u.name) && !this.onlyInConflict(u.name)));
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

  private onlyInConflict(name: string): boolean {
    const state = this.states.get(name)!;
    return state.reachable && this.conflicts.has(name);
  }

  /** Records a read; true when its document changed, and so may the routes. */
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
    // Its conflict, if any, stands until the rebuild that follows a change says otherwise; a new document's is logged anew.
    const changed = !isDeepStrictEqual(before.document, result);
    if (changed) this.relog.add(name);
    this.states.set(name, { document: result, reachable: true, problem: this.conflicts.get(name) });
    if (!before.reachable) this.options.logger.info({ upstream: name, routes: routesOfDocument(result).length }, 'upstream routed');
    return changed;
  }

  /**
   * Builds the table from every upstream with a document. At start-up, in configuration order, a conflict is fatal.
   * Later (a redeployed service's document declares a route another service holds) each route keeps the upstream that
   * held it, and only the newcomer's clashing routes are refused: its other routes are served, and it is named (with
   * the refused routes) until the conflict is gone, so one bad deploy cannot take another service's API away.
   */
  private rebuild({ strict }: { strict: boolean }): void {
    const previous = this.current;
    const declared = this.options.upstreams
      .filter(({ name }) => this.states.get(name)!.document !== undefined)
      .map(({ name }) => ({ name, routes: routesOfDocument(this.states.get(name)!.document!) }));
    // Routes each upstream already holds go in first, so a newcomer can only take what nobody holds.
    const entries = [
      ...declared.flatMap(({ name, routes }) =>
        routes.filter((r) => previous.owner(r) === name).map((route) => ({ upstream: name, route })),
      ),
      ...declared.flatMap(({ name, routes }) =>
        routes.filter((r) => previous.owner(r) !== name).map((route) => ({ upstream: name, route })),
      ),
    ];
    const { table, refused } = RouteTable.buildKeeping(entries);
    if (strict && refused.length > 0) throw refused[0]!;
    for (const { name } of declared)
      this.recordConflicts(
        name,
        refused.filter((e) => e.upstreams[1] === name),
      );
    this.current = table;
    this.merged = this.merge(new Map(declared.map(({ name }) => [name, refused.filter((e) => e.upstreams[1] === name)])));
  }

  /** Sets or clears an upstream's conflict, logging only a change. */
  private recordConflicts(name: string, refused: readonly RouteConflictError[]): void {
    const state = this.states.get(name)!;
    const before = this.conflicts.get(name);
    if (refused.length === 0) {
      this.relog.delete(name);
      if (before === undefined) return;
      this.conflicts.delete(name);
      if (state.reachable) this.states.set(name, { ...state, problem: undefined });
      this.options.logger.info({ upstream: name }, 'upstream route conflict resolved: all its routes are served');
      return;
    }
    const problem = conflictProblem(refused);
    this.conflicts.set(name, problem);
    if (state.reachable) this.states.set(name, { ...state, problem });
    const logged = before === problem && !this.relog.has(name);
    this.relog.delete(name);
    if (!logged) {
      this.options.logger.error(
        {
          upstream: name,
          refused: refused.map((e) => `${e.method} ${e.template}`),
          holders: [...new Set(refused.map((e) => e.upstreams[0]))],
        },
        'upstream routes left out of the routing table: another service declares them; its other routes are served',
      );
    }
  }

  /** The merged document of the routed upstreams (each one's refused routes taken out of its part). */
  private merge(routed: ReadonlyMap<string, readonly RouteConflictError[]> = new Map()): OpenApiDocument {
    return mergeDocuments(
      this.options.upstreams
        .filter((u) => routed.has(u.name))
        .map((u) => ({ service: u.name, document: withoutRoutes(this.states.get(u.name)!.document!, routed.get(u.name)!) })),
      { title: this.options.title, description: this.options.description },
    );
  }
}

/** The document without the operations the table refused it (OpenAPI method keys are lower case); a path left with none goes. */
function withoutRoutes(document: OpenApiDocument, refused: readonly RouteConflictError[]): OpenApiDocument {
  if (refused.length === 0) return document;
  const gone = new Set(refused.map((e) => `${e.method} ${e.template}`));
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [template, item] of Object.entries(document.paths ?? {})) {
    const kept = Object.fromEntries(Object.entries(item).filter(([key]) => !gone.has(`${key.toUpperCase()} ${template}`)));
    if (routesOfDocument({ paths: { [template]: kept } }).length > 0) paths[template] = kept;
  }
  return { ...document, paths };
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
