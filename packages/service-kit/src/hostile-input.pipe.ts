import type { ArgumentMetadata, PipeTransform } from '@nestjs/common';
import { unstorableIn } from '@rampart/contracts';
import { InvalidRequestError } from './invalid-request.error.js';

/**
 * Keys that reach an object's prototype when a parsed body is copied by
 * assignment (`target[key] = value`); no route has a use for them, so a
 * body that names one is refused rather than silently dropped or copied.
 */
const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Deeper than any body a route takes; a deeper one is refused before anything walks it recursively. */
export const MAX_INPUT_DEPTH = 32;

/** The HTTP arguments this pipe guards; message-bus payloads have their own contracts and errors. */
const HTTP_ARGUMENTS: ReadonlySet<ArgumentMetadata['type']> = new Set(['body', 'query', 'param']);

/**
 * The backstop under every route's own schema, on every path, query and
 * body argument of every service: whatever a schema says or forgets, no
 * string with a NUL (PostgreSQL text cannot hold one) or a lone surrogate
 * (it would be stored as U+FFFD) and no prototype key gets past the edge.
 * Installed once, for every app, by createHttpApp (the service host's).
 */
export class HostileInputPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (!HTTP_ARGUMENTS.has(metadata.type)) return value;
    const problem = problemIn(value, 0);
    if (problem !== undefined) {
      const where = metadata.data === undefined ? metadata.type : `${metadata.type} ${metadata.data}`;
      throw new InvalidRequestError('invalid request', [`${where}: ${problem}`]);
    }
    return value;
  }
}

function problemIn(value: unknown, depth: number): string | undefined {
  if (typeof value === 'string') return unstorableIn(value);
  if (typeof value !== 'object' || value === null || Buffer.isBuffer(value)) return undefined;
  if (depth >= MAX_INPUT_DEPTH) return `nested deeper than ${MAX_INPUT_DEPTH} levels`;
  for (const [key, item] of Object.entries(value)) {
    if (PROTOTYPE_KEYS.has(key)) return `the key "${key}" is not allowed`;
    const problem = unstorableIn(key) ?? problemIn(item, depth + 1);
    if (problem !== undefined) return problem;
  }
  return undefined;
}
