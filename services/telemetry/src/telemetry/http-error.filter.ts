import { ArgumentsHost, Catch, HttpException, type ExceptionFilter } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { Logger } from '@rampart/service-kit';
import { QueryRangeError } from './telemetry-query.service.js';

/** The HTTP edge's one error mapping: `{ code, message }` bodies, no stack traces out. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(error: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw error;
    const response = host.switchToHttp().getResponse<ServerResponse>();
    let status = 500;
    let body: unknown = { code: 'INTERNAL', message: 'internal error' };
    if (error instanceof HttpException) {
      status = error.getStatus();
      const payload = error.getResponse();
      body =
        typeof payload === 'object' && payload !== null && 'code' in payload
          ? payload
          : { code: status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST', message: error.message };
    } else if (error instanceof QueryRangeError) {
      status = 400;
      body = { code: 'BAD_REQUEST', message: error.message };
    } else {
      this.logger.error({ err: error }, 'request failed');
    }
    response.statusCode = status;
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify(body));
  }
}
