import { RequestMethod, type INestApplication, type PipeTransform } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { ModulesContainer } from '@nestjs/core';
import type { z } from 'zod';
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

/** A route as Nest registered it: method, path template (`/v1/devices/:deviceId`) and what it reads. */
export interface RouteDescription {
  readonly method: string;
  readonly path: string;
  readonly controller: string;
  readonly handler: string;
  readonly arguments: readonly RouteArgument[];
  /** The handler reads the raw request (`@Req()`), e.g. a binary upload. */
  readonly readsRawRequest: boolean;
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

/**
 * Every HTTP route of a Nest application, read from its controllers'
 * routing metadata (what the router was built from), with the schema of
 * each path, query and body argument: what route sweeps and fuzz tests
 * walk, so a new route is covered without anyone listing it.
 */
export function describeRoutes(app: INestApplication): RouteDescription[] {
  const routes: RouteDescription[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: never[]) => unknown) | null;
      if (typeof controller !== 'function') continue;
      const base = firstPath(Reflect.getMetadata(PATH_METADATA, controller));
      const prototype = controller.prototype as Record<string, unknown>;
      for (const handler of Object.getOwnPropertyNames(prototype)) {
        const method = handler === 'constructor' ? undefined : prototype[handler];
        if (typeof method !== 'function') continue;
        const requestMethod = Reflect.getMetadata(METHOD_METADATA, method) as RequestMethod | undefined;
        const path = Reflect.getMetadata(PATH_METADATA, method) as unknown;
        if (requestMethod === undefined || path === undefined) continue; // a message handler or a helper
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
        routes.push({
          method: RequestMethod[requestMethod],
          path: joinPaths(base, firstPath(path)),
          controller: controller.name,
          handler,
          arguments: described,
          readsRawRequest,
        });
      }
    }
  }
  return routes;
}

function firstPath(value: unknown): string {
  if (Array.isArray(value)) return typeof value[0] === 'string' ? value[0] : '';
  return typeof value === 'string' ? value : '';
}

function joinPaths(base: string, path: string): string {
  const parts = [base, path].map((p) => p.replace(/^\/+|\/+$/g, '')).filter((p) => p.length > 0);
  return `/${parts.join('/')}`;
}
