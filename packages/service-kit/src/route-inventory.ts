import { RequestMethod, type INestApplication, type PipeTransform } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { ModulesContainer } from '@nestjs/core';
import type { z } from 'zod';
import { ACCESS_REQUIREMENT, type AccessRequirement } from './access/access.js';
import { ZodValidationPipe } from './zod-validation.pipe.js';

/** Where a route argument comes from. */
export type RouteArgumentSource = 'param' | 'query' | 'body';

/** One argument a route handler takes from the request, and the schema that validates it (if any). */
export interface RouteArgument {
  readonly source: RouteArgumentSource;
  /** The path parameter's name; undefined for a whole query or body. */
  readonly name: string | undefined;
  readonly schema: z.ZodType | undefined;
}

/** A route as Nest registered it: method, path template (`/v1/devices/:deviceId`), what it reads and what it requires. */
export interface RouteDescription {
  readonly method: string;
  readonly path: string;
  readonly controller: string;
  readonly handler: string;
  readonly arguments: readonly RouteArgument[];
  /** The handler reads the raw request (`@Req()`), e.g. a binary upload. */
  readonly readsRawRequest: boolean;
  /** What the handler declares (its own, else its controller's); undefined when it declares nothing. */
  readonly requirement: AccessRequirement | undefined;
}

/** One route a service answers, as its HTTP router holds it. */
export interface ServedRoute {
  /** Upper case: GET, POST … */
  readonly method: string;
  /** The router's pattern, e.g. `/v1/devices/:deviceId`. */
  readonly path: string;
  /** Served by a Nest controller (the guards apply); false for routes added on the server itself (the OpenAPI document). */
  readonly controller: boolean;
  /** What the Nest handler declares; undefined when it declares nothing (or is no Nest handler). */
  readonly requirement: AccessRequirement | undefined;
}

const SOURCES: Partial<Record<number, RouteArgumentSource>> = {
  [RouteParamtypes.PARAM]: 'param',
  [RouteParamtypes.QUERY]: 'query',
  [RouteParamtypes.BODY]: 'body',
};

interface RouteArgumentMetadata {
  readonly index: number;
  readonly data?: unknown;
  readonly pipes?: readonly PipeTransform[];
}

interface RouterLayer {
  readonly route?: { readonly path: string | string[]; readonly methods: Record<string, boolean> };
}

/**
 * Every HTTP route of a Nest application, read from its controllers'
 * routing metadata (what the router was built from), with the schema of
 * each path, query and body argument and the route's access declaration:
 * what route sweeps and fuzz tests walk, so a new route is covered without
 * anyone listing it.
 */
export function describeRoutes(app: INestApplication): RouteDescription[] {
  const routes: RouteDescription[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: never[]) => unknown) | null;
      if (typeof controller !== 'function') continue;
      const bases = paths(Reflect.getMetadata(PATH_METADATA, controller));
      const declaredOnClass = Reflect.getMetadata(ACCESS_REQUIREMENT, controller) as AccessRequirement | undefined;
      const prototype = controller.prototype as Record<string, unknown>;
      for (const handler of Object.getOwnPropertyNames(prototype)) {
        const method = handler === 'constructor' ? undefined : prototype[handler];
        if (typeof method !== 'function') continue;
        const requestMethod = Reflect.getMetadata(METHOD_METADATA, method) as RequestMethod | undefined;
        const own = Reflect.getMetadata(PATH_METADATA, method) as unknown;
        if (requestMethod === undefined || own === undefined) continue; // a message handler or a helper
        const requirement = (Reflect.getMetadata(ACCESS_REQUIREMENT, method) as AccessRequirement | undefined) ?? declaredOnClass;
        const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handler) ?? {}) as Record<string, RouteArgumentMetadata>;
        const described: RouteArgument[] = [];
        let readsRawRequest = false;
        for (const [key, arg] of Object.entries(args)) {
          const type = Number(key.split(':')[0]) as RouteParamtypes;
          if (type === RouteParamtypes.REQUEST) readsRawRequest = true;
          const source = SOURCES[type];
          if (source === undefined) continue;
          const pipe = arg.pipes?.find((p): p is ZodValidationPipe<z.ZodType> => p instanceof ZodValidationPipe);
          described.push({ source, name: typeof arg.data === 'string' ? arg.data : undefined, schema: pipe?.schema });
        }
        for (const base of bases) {
          for (const path of paths(own)) {
            routes.push({
              method: RequestMethod[requestMethod],
              path: joinPaths(base, path),
              controller: controller.name,
              handler,
              arguments: described,
              readsRawRequest,
              requirement,
            });
          }
        }
      }
    }
  }
  return routes;
}

/**
 * The routes an app's HTTP router serves, read from the router itself (so a
 * route added any way at all is listed), each joined to the Nest handler that
 * serves it and that handler's access declaration. For sweep tests that walk
 * every route of a service rather than a hand-kept list.
 */
export function servedRoutes(app: INestApplication): ServedRoute[] {
  const handlers = new Map(describeRoutes(app).map((r) => [`${r.method} ${r.path}`, r.requirement]));
  const router = (app.getHttpAdapter().getInstance() as { router: { stack: RouterLayer[] } }).router;
  const served: ServedRoute[] = [];
  for (const layer of router.stack) {
    if (layer.route === undefined) continue; // middleware
    for (const path of [layer.route.path].flat()) {
      for (const [method, enabled] of Object.entries(layer.route.methods)) {
        if (!enabled || method === '_all') continue;
        const key = `${method.toUpperCase()} ${path}`;
        served.push({ method: method.toUpperCase(), path, controller: handlers.has(key), requirement: handlers.get(key) });
      }
    }
  }
  return served;
}

function paths(value: unknown): string[] {
  const all = [value].flat().filter((p): p is string => typeof p === 'string');
  return all.length > 0 ? all : [''];
}

function joinPaths(base: string, path: string): string {
  const parts = [base, path].map((p) => p.replace(/^\/+|\/+$/g, '')).filter((p) => p.length > 0);
  return `/${parts.join('/')}`;
}
