import { isDeepStrictEqual } from 'node:util';

/** The parts of an OpenAPI 3 document the merge reads; the rest of each operation passes through untouched. */
export interface OpenApiDocument {
  readonly openapi?: string;
  readonly info?: { readonly title?: string; readonly description?: string; readonly version?: string };
  readonly tags?: ReadonlyArray<{ readonly name: string }>;
  readonly paths?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly components?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly [key: string]: unknown;
}

export interface ServiceDocument {
  readonly service: string;
  readonly document: OpenApiDocument;
}

export interface MergeOptions {
  readonly title: string;
  readonly description: string;
}

/**
 * One OpenAPI document from every upstream's: all paths (the route table has
 * already refused a method declared twice) and all components. A component
 * name two services define differently is renamed `<service>_<name>` in
 * each of them, with every `$ref` to it in that service's part rewritten;
 * identical definitions (the bearer scheme, shared DTOs) are kept once. An
 * operationId two services use is prefixed the same way, so Swagger UI's
 * deep links stay unique.
 */
export function mergeDocuments(sources: readonly ServiceDocument[], options: MergeOptions): OpenApiDocument {
  const copies = sources.map(({ service, document }) => ({ service, document: structuredClone<OpenApiDocument>(document) }));
  const renames = componentRenames(copies);
  const operationIds = clashingOperationIds(copies);

  const paths: Record<string, Record<string, unknown>> = {};
  const components: Record<string, Record<string, unknown>> = {};
  const tags = new Map<string, { name: string }>();
  for (const { service, document } of copies) {
    const rename = renames.get(service)!;
    const rewritten = rewriteRefs(document, rename) as OpenApiDocument;
    for (const [template, item] of Object.entries(rewritten.paths ?? {})) {
      for (const operation of Object.values(item)) prefixOperationId(operation, service, operationIds);
      paths[template] = { ...paths[template], ...item };
    }
    for (const [section, entries] of Object.entries(rewritten.components ?? {})) {
      const target = (components[section] ??= {});
      for (const [name, value] of Object.entries(entries)) target[rename.get(`${section}/${name}`) ?? name] = value;
    }
    for (const tag of rewritten.tags ?? []) if (!tags.has(tag.name)) tags.set(tag.name, tag);
  }
  return {
    openapi: copies[0]?.document.openapi ?? '3.0.0',
    info: { title: options.title, description: options.description, version: '1' },
    tags: [...tags.values()],
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components,
  };
}

/** Per service: `<section>/<name>` → its new name, for every component another service defines differently. */
function componentRenames(sources: readonly ServiceDocument[]): Map<string, Map<string, string>> {
  const definitions = new Map<string, Array<{ service: string; value: unknown }>>();
  for (const { service, document } of sources) {
    for (const [section, entries] of Object.entries(document.components ?? {})) {
      for (const [name, value] of Object.entries(entries)) {
        const key = `${section}/${name}`;
        definitions.set(key, [...(definitions.get(key) ?? []), { service, value }]);
      }
    }
  }
  const renames = new Map(sources.map(({ service }) => [service, new Map<string, string>()]));
  for (const [key, defined] of definitions) {
    const first = defined[0]!;
    if (defined.every((d) => isDeepStrictEqual(d.value, first.value))) continue;
    const name = key.slice(key.indexOf('/') + 1);
    for (const { service } of defined) renames.get(service)!.set(key, `${service}_${name}`);
  }
  return renames;
}

/** Every `$ref` to a renamed component points at its new name. */
function rewriteRefs(value: unknown, rename: ReadonlyMap<string, string>): unknown {
  if (rename.size === 0 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => rewriteRefs(v, rename));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === '$ref' && typeof v === 'string' && v.startsWith('#/components/')) {
      const target = v.slice('#/components/'.length);
      const renamed = rename.get(target);
      out[key] = renamed === undefined ? v : `#/components/${target.slice(0, target.indexOf('/'))}/${renamed}`;
    } else {
      out[key] = rewriteRefs(v, rename);
    }
  }
  return out;
}

function clashingOperationIds(sources: readonly ServiceDocument[]): Set<string> {
  const owners = new Map<string, Set<string>>();
  for (const { service, document } of sources) {
    for (const item of Object.values(document.paths ?? {})) {
      for (const operation of Object.values(item)) {
        const id = operationIdOf(operation);
        if (id !== undefined) owners.set(id, (owners.get(id) ?? new Set()).add(service));
      }
    }
  }
  return new Set([...owners].filter(([, services]) => services.size > 1).map(([id]) => id));
}

function operationIdOf(operation: unknown): string | undefined {
  if (operation === null || typeof operation !== 'object') return undefined;
  const id = (operation as { operationId?: unknown }).operationId;
  return typeof id === 'string' ? id : undefined;
}

function prefixOperationId(operation: unknown, service: string, clashing: ReadonlySet<string>): void {
  const id = operationIdOf(operation);
  if (id !== undefined && clashing.has(id)) (operation as { operationId: string }).operationId = `${service}_${id}`;
}
