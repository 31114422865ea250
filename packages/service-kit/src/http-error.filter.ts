import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { httpStatusOf } from '@rampart/contracts';
import type { ServerResponse } from 'node:http';
import { DomainError } from './domain-error.js';
import type { Logger } from './logger.js';

/**
 * The HTTP edge's one error mapping: `{ code, message }` bodies, a domain
 * error's status from the contracts' error table by its code, anything else
 * a logged 500 with no detail.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(error: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw error;
    const response = host.switchToHttp().getResponse<ServerResponse>();
    if (response.headersSent) {
      // A streamed answer failed part-way: its status is gone, and a body that simply stopped must not look complete.
      this.logger.error({ err: error }, 'request failed after its answer began; connection reset');
      response.destroy();
      return;
    }
    let status = 500;
    let body: unknown = { code: 'INTERNAL', message: 'internal error' };
    if (error instanceof DomainError) {
      status = httpStatusOf(error.code);
      body = { code: error.code, message: error.message };
    } else if (error instanceof HttpException) {
      status = error.getStatus();
      const payload = error.getResponse();
      body =
        typeof payload === 'object' && payload !== null && 'code' in payload
          ? payload
          : { code: status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST', message: error.message };
    } else {
      this.logger.error({ err: error }, 'request failed');
    }
    response.statusCode = status;
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify(body));
  }
}
