import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { ErrorCode, errorCodeOfHttpStatus, httpStatusOf, type ErrorCodeValue } from '@rampart/contracts';
import type { ServerResponse } from 'node:http';
import { DomainError } from './domain-error.js';
import type { Logger } from './logger.js';

/** The HTTP answer's body: the wire error, and a bad request's problems one by one. */
interface ErrorBody {
  readonly code: ErrorCodeValue;
  readonly message: string;
  readonly details?: readonly string[];
}

/**
 * The HTTP edge's one error mapping: `{ code, message }` bodies, a domain
 * error's status from the contracts' error table by its code; Nest's own
 * answers (404 for an unknown route, 413 for a body over the limit) keep their
 * status and take the table's code for it; anything else is a logged 500 with
 * no detail. A domain error that answers 5xx is logged too, with what it
 * keeps off the wire.
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
    let status: number = httpStatusOf(ErrorCode.internal);
    let body: ErrorBody = { code: ErrorCode.internal, message: 'internal error' };
    if (error instanceof DomainError) {
      status = httpStatusOf(error.code);
      body = { code: error.code, message: error.message, ...(error.details === undefined ? {} : { details: error.details }) };
      // A 5xx is the platform's failure, not the caller's: its detail (which key, which token) is told here only.
      if (status >= 500) this.logger.warn({ err: error, code: error.code }, 'request failed: the platform cannot answer now');
    } else if (error instanceof HttpException) {
      status = error.getStatus();
      body = { code: errorCodeOfHttpStatus(status), message: error.message };
    } else {
      this.logger.error({ err: error }, 'request failed');
    }
    response.statusCode = status;
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify(body));
  }
}
