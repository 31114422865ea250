import type { PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { InvalidRequestError } from './invalid-request.error.js';

/**
 * Validates a route parameter, query or body against a schema at the HTTP
 * edge; a bad request gets a 400 that names each problem. The schema is
 * public so a route inventory can read what each route takes.
 */
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(readonly schema: S) {}

  transform(value: unknown): z.infer<S> {
    const result = this.schema.safeParse(value);
    if (result.success) return result.data;
    throw new InvalidRequestError(
      'invalid request',
      result.error.issues.map((i) => `${i.path.map(String).join('.') || 'value'}: ${i.message}`),
    );
  }
}
