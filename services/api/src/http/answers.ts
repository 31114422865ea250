import type { ServerResponse } from 'node:http';
import { httpStatusOf, type ErrorCodeValue, type WireError } from '@rampart/contracts';

/**
 * Answers with the services' error shape, `{ code, message }`, its status the contracts' error table's for the code,
 * so a client reads one shape everywhere, whether the front or a service behind it refused.
 */
export function answerError(res: ServerResponse, code: ErrorCodeValue, message: string, headers: Record<string, string> = {}): void {
  const body: WireError = { code, message };
  answerJson(res, httpStatusOf(code), body, headers);
}

export function answerJson(res: ServerResponse, statusCode: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(statusCode, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}
