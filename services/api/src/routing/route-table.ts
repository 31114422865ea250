/** HTTP methods an OpenAPI path item can hold (OpenAPI 3.0 §4.7.9), upper case as on the wire. */
export const OPENAPI_METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH', 'TRACE'] as const;

/** One route an upstream declares: a method and an OpenAPI path template (`/v1/devices/{deviceId}`). */
export interface DeclaredRoute {
  readonly method: string;
  readonly template: string;
}

/** What a request path resolves to. */
export type RouteMatch =
  | { readonly kind: 'route'; readonly upstream: string; readonly template: string }
  /** The path exists, not with this method: the methods it has, for `Allow`. */
  | { readonly kind: 'method-not-allowed'; readonly allowed: readonly string[] }
  | { readonly kind: 'none' };

/** Two upstreams declare the same method on the same path template: the front cannot choose, so it refuses. */
export class RouteConflictError extends Error {
  override readonly name = 'RouteConflictError';
  constructor(
    readonly method: string,
    readonly template: string,
    readonly upstreams: readonly [string, string],
  ) {
    super(`${method} ${template} is declared by both ${upstreams[0]} and ${upstreams[1]}: each route must belong to one service`);
  }
}

/** A node of the segment trie: literal children are tried before the one parameter child. */
interface Node {
  readonly literals: Map<string, Node>;
  parameter: Node | undefined;
  /** Method → upstream and the template as declared, for routes ending here. */
  readonly methods: Map<string, { upstream: string; template: string }>;
}

const newNode = (): Node => ({ literals: new Map(), parameter: undefined, methods: new Map() });

/** `{id}` is a parameter segment; anything else is literal. Parameter names do not matter for routing. */
const isParameter = (segment: string): boolean => /^\{[^{}/]+\}$/.test(segment);

/** Path segments without the empty ones a leading or trailing slash makes (Express's non-strict routing ignores a trailing slash too). */
function segmentsOf(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

/**
 * The front's routing table: every upstream's path templates and methods,
 * taken from its OpenAPI document. Matching walks segments, trying a literal
 * segment before a parameter at every level (backtracking when the literal
 * branch leads nowhere), so `/v1/devices/{id}/telemetry/latest` beats
 * `/v1/devices/{id}` and `/v1/devices/stats` beats `/v1/devices/{id}` whichever
 * upstream declares them. Paths are compared exactly, as the services'
 * routers see them; a dot segment never matches, so `..` cannot walk into
 * another service's route.
 */
export class RouteTable {
  private readonly root = newNode();
  private readonly counts = new Map<string, number>();

  /** Builds a table from each upstream's routes; a method and template claimed twice is a RouteConflictError naming both. */
  static build(routesByUpstream: ReadonlyMap<string, readonly DeclaredRoute[]>): RouteTable {
    const table = new RouteTable();
    for (const [upstream, routes] of routesByUpstream) {
      for (const route of routes) table.add(upstream, route);
    }
    return table;
  }

  /**
   * Builds a table from routes in the order given, leaving out each one that clashes with a route already in (the
   * first to claim a route keeps it): the table, and a RouteConflictError for each route left out, naming the
   * holder first and the upstream refused second.
   */
  static buildKeeping(entries: Iterable<{ readonly upstream: string; readonly route: DeclaredRoute }>): {
    table: RouteTable;
    refused: RouteConflictError[];
  } {
    const table = new RouteTable();
    const refused: RouteConflictError[] = [];
    for (const { upstream, route } of entries) {
      try {
        table.add(upstream, route);
      } catch (error) {
        if (!(error instanceof RouteConflictError)) throw error;
        refused.push(error);
      }
    }
    return { table, refused };
  }

  /** The upstream holding this method on this template (parameter names aside), if any: not a request match. */
  owner(route: DeclaredRoute): string | undefined {
    let node: Node | undefined = this.root;
    for (const segment of segmentsOf(route.template)) {
      node = isParameter(segment) ? node.parameter : node.literals.get(segment);
      if (node === undefined) return undefined;
    }
    return node.methods.get(route.method.toUpperCase())?.upstream;
  }

  private add(upstream: string, route: DeclaredRoute): void {
    let node = this.root;
    for (const segment of segmentsOf(route.template)) {
      if (isParameter(segment)) {
        node = node.parameter ??= newNode();
      } else {
        let next = node.literals.get(segment);
        if (next === undefined) node.literals.set(segment, (next = newNode()));
        node = next;
      }
    }
    const method = route.method.toUpperCase();
    const existing = node.methods.get(method);
    // `{id}` and `{deviceId}` at the same place are the same route to a router.
    if (existing !== undefined) throw new RouteConflictError(method, route.template, [existing.upstream, upstream]);
    node.methods.set(method, { upstream, template: route.template });
    this.counts.set(upstream, (this.counts.get(upstream) ?? 0) + 1);
  }

  /** Routes per upstream. */
  routeCounts(): ReadonlyMap<string, number> {
    return this.counts;
  }

  /** Resolves a request's method and path (without the query string). A HEAD goes where the GET goes, as the services' routers do. */
  match(method: string, path: string): RouteMatch {
    const segments = segmentsOf(path);
    if (segments.some((s) => s === '.' || s === '..')) return { kind: 'none' };
    const node = find(this.root, segments, 0);
    if (node === undefined) return { kind: 'none' };
    const upper = method.toUpperCase();
    const hit = node.methods.get(upper) ?? (upper === 'HEAD' ? node.methods.get('GET') : undefined);
    if (hit !== undefined) return { kind: 'route', upstream: hit.upstream, template: hit.template };
    const allowed = [...node.methods.keys()];
    if (allowed.includes('GET') && !allowed.includes('HEAD')) allowed.push('HEAD');
    return { kind: 'method-not-allowed', allowed: allowed.sort() };
  }
}

/** The deepest node for the segments, literal first; a node counts only if some route ends there. */
function find(node: Node, segments: readonly string[], index: number): Node | undefined {
  if (index === segments.length) return node.methods.size > 0 ? node : undefined;
  const segment = segments[index]!;
  const literal = node.literals.get(segment);
  if (literal !== undefined) {
    const found = find(literal, segments, index + 1);
    if (found !== undefined) return found;
  }
  return node.parameter === undefined ? undefined : find(node.parameter, segments, index + 1);
}

/** The routes an OpenAPI document declares: each path template with each method it holds. */
export function routesOfDocument(document: { readonly paths?: Readonly<Record<string, unknown>> }): DeclaredRoute[] {
  const routes: DeclaredRoute[] = [];
  for (const [template, item] of Object.entries(document.paths ?? {})) {
    if (item === null || typeof item !== 'object') continue;
    for (const key of Object.keys(item)) {
      const method = key.toUpperCase();
      if ((OPENAPI_METHODS as readonly string[]).includes(method)) routes.push({ method, template });
    }
  }
  return routes;
}
