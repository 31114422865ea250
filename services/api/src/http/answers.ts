import { STATUS_CODES, type ServerResponse } from 'node:http';

/** Answers with the services' error shape (Nest's: `{ statusCode, error, message }`), so a client reads one shape everywhere. */
export function answerError(res: ServerResponse, statusCode: number, message: string, headers: Record<string, string> = {}): void {
  answerJson(res, statusCode, { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message }, headers);
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
