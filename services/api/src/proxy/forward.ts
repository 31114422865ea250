import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ErrorCode } from '@rampart/contracts';
import { errors, type Dispatcher } from 'undici';
import { answerError } from '../http/answers.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js';

/** Why a forward failed, as metrics and logs count it. */
export type ForwardFailure = 'unreachable' | 'timeout' | 'failed' | 'bad-request';

export interface ForwardOptions {
  readonly dispatcher: Dispatcher;
  /** Longest wait for the response's headers, and longest silence inside either body. */
  readonly timeoutMs: number;
  /** Told of each failure: the catalog marks the upstream down on `unreachable`. */
  readonly onFailure: (upstream: string, failure: ForwardFailure, error: Error) => void;
}

/** Connection errors: nothing reached the service, so it is down (or not up yet), not misbehaving. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** Retry-After on an UNAVAILABLE (503) for a service that is down: discovery asks it again every couple of seconds. */
export const RETRY_AFTER_SECONDS = '5';

/**
 * Forwards one request to an upstream and streams the answer back: the
 * request body is piped as it arrives (an image upload is never held in
 * memory) and so is the response (CSV exports), with status and
 * end-to-end headers unchanged. Before the answer starts, a failure is a
 * `{ code, message }` naming the service — UNAVAILABLE (down), TIMEOUT (too
 * slow) or BAD_GATEWAY (a broken answer) — never a hang;
 * after it starts, the client's connection is cut, since a status already sent
 * cannot be taken back. A client that goes away aborts the upstream request.
 */
export async function forward(
  req: IncomingMessage,
  res: ServerResponse,
  upstream: { readonly name: string; readonly url: string },
  options: ForwardOptions,
): Promise<void> {
  const aborted = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) aborted.abort();
  });
  const target = new URL(upstream.url);
  const body = hasBody(req) ? requestBody(req) : null;
  let response: Dispatcher.ResponseData;
  try {
    response = await options.dispatcher.request({
      origin: target.origin,
      path: `${target.pathname.replace(/\/$/, '')}${req.url ?? '/'}`,
      method: req.method as Dispatcher.HttpMethod,
      headers: upstreamRequestHeaders(req.headers, {
        remoteAddress: req.socket.remoteAddress,
        encrypted: (req.socket as Partial<TLSSocket>).encrypted === true,
      }),
      body,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      signal: aborted.signal,
    });
  } catch (error) {
    if (aborted.signal.aborted) return;
    const failure = classify(error);
    options.onFailure(upstream.name, failure, error as Error);
    // Whatever of the body is still coming is read and dropped: the answer says why.
    body?.destroy();
    if (res.headersSent) {
      res.destroy();
      return;
    }
    switch (failure) {
      case 'unreachable':
        answerError(res, ErrorCode.unavailable, `the ${upstream.name} service is unavailable; try again shortly`, {
          'retry-after': RETRY_AFTER_SECONDS,
        });
        return;
      case 'timeout':
        answerError(res, ErrorCode.timeout, `the ${upstream.name} service did not answer within ${options.timeoutMs} ms`);
        return;
      case 'failed':
        answerError(res, ErrorCode.badGateway, `the ${upstream.name} service's answer failed`);
        return;
      case 'bad-request':
        answerError(
          res,
          ErrorCode.badRequest,
          'the request cannot be forwarded: its body does not match its Content-Length, or a header is malformed',
        );
        return;
    }
  }
  res.writeHead(response.statusCode, clientResponseHeaders(response.headers));
  try {
    await pipeline(response.body, res);
  } catch (error) {
    // The status is out; a truncated body is all that is left to signal it.
    if (!aborted.signal.aborted) options.onFailure(upstream.name, classify(error), error as Error);
    res.destroy();
  }
}

/**
 * The request body as the upstream request's: piped through a stream of its
 * own, so that when the upstream answers before reading it all (401, 413) and
 * undici drops the rest, only that stream is destroyed; the client's
 * connection stays, what it still sends is read and dropped, and it gets the
 * answer rather than a reset. A client that goes away fails the upload.
 */
function requestBody(req: IncomingMessage): PassThrough {
  const body = new PassThrough();
  req.pipe(body);
  req.once('error', (error) => body.destroy(error));
  body.once('close', () => {
    if (req.readableEnded) return;
    req.unpipe(body);
    req.resume();
  });
  return body;
}

/** A request has a body when it says so (RFC 9112 §6.3): a length or a transfer coding. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function classify(error: unknown): ForwardFailure {
  if (error instanceof errors.HeadersTimeoutError || error instanceof errors.BodyTimeoutError) return 'timeout';
  // The client's fault, not the service's: a body shorter or longer than announced, a header undici refuses.
  if (error instanceof errors.RequestContentLengthMismatchError || error instanceof errors.InvalidArgumentError) return 'bad-request';
  const codes = [(error as { code?: unknown }).code, (error as { cause?: { code?: unknown } }).cause?.code];
  return codes.some((c) => typeof c === 'string' && UNREACHABLE_CODES.has(c)) ? 'unreachable' : 'failed';
}
