import { RequestMethod, type INestApplication } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { ModulesContainer } from '@nestjs/core';
import { ACCESS_REQUIREMENT, type AccessRequirement } from './access.js';

/** One route a service answers, as its HTTP router holds it. */
export interface ServedRoute {
  /** Upper case: GET, POST … */
  readonly method: string;
  /** The router's pattern, e.g. `/v1/devices/:deviceId`. */
  readonly path: string;
  /** Served by a Nest controller (the guards apply); false for routes added on the server itself (the OpenAPI document). */
  readonly controller: boolean;
  /** What the Nest handler declares (its own, else its controller's); undefined when it declares nothing. */
  readonly requirement: AccessRequirement | undefined;
}

interface RouterLayer {
  readonly route?: { readonly path: string | string[]; readonly methods: Record<string, boolean> };
}

function joinPath(...parts: string[]): string {
  const joined = parts
    .flatMap((p) => p.split('/'))
    .filter((segment) => segment !== '')
    .join('/');
  return `/${joined}`;
}

/** Every HTTP handler of the app's controllers, keyed `METHOD path`, with its declared requirement. */
function controllerRoutes(app: INestApplication): Map<string, AccessRequirement | undefined> {
  const routes = new Map<string, AccessRequirement | undefined>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: never[]) => unknown) | null;
      if (typeof controller !== 'function') continue;
      const base = (Reflect.getMetadata(PATH_METADATA, controller) as string | string[] | undefined) ?? '/';
      const declaredOnClass = Reflect.getMetadata(ACCESS_REQUIREMENT, controller) as AccessRequirement | undefined;
      const prototype = controller.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(prototype)) {
        const handler = prototype[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        const path = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
        if (path === undefined) continue; // a bus handler (@MessagePattern), not a route
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
        const requirement = (Reflect.getMetadata(ACCESS_REQUIREMENT, handler) as AccessRequirement | undefined) ?? declaredOnClass;
        for (const prefix of [base].flat()) for (const own of [path].flat()) routes.set(`${method} ${joinPath(prefix, own)}`, requirement);
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
  const handlers = controllerRoutes(app);
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
