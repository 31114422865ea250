/** The API could not be reached at all: names the URL and the cause (never a bare "fetch failed"). */
export class ApiUnreachableError extends Error {
  override readonly name = 'ApiUnreachableError';
  constructor(
    readonly url: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot reach ${url} (${code})`, options);
  }
}

/** The API answered with an error status; `message` is the API's own. */
export class ApiHttpError extends Error {
  override readonly name = 'ApiHttpError';
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

/** The most specific cause undici gives (ECONNREFUSED, ENOTFOUND, a TLS error …), walking `cause` chains and aggregates. */
export function networkCode(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const e = current as { code?: unknown; errors?: unknown[]; cause?: unknown; message?: unknown };
    if (typeof e.code === 'string' && e.code !== 'UND_ERR_SOCKET') return e.code;
    if (Array.isArray(e.errors) && e.errors.length > 0) current = e.errors[0];
    else if (e.cause !== undefined) current = e.cause;
    else return typeof e.message === 'string' && e.message !== 'fetch failed' ? e.message : 'network error';
  }
  return 'network error';
}

/** The API's message from an error body: `{ message, details[] }` (Nest, our services) or plain text. */
export function messageOf(body: unknown, fallback: string): string {
  if (typeof body === 'string' && body.trim() !== '') return body.trim();
  if (body === null || typeof body !== 'object') return fallback;
  const b = body as { message?: unknown; details?: unknown };
  const details = Array.isArray(b.details) ? b.details.filter((d): d is string => typeof d === 'string') : [];
  const message = Array.isArray(b.message) ? b.message.join('; ') : typeof b.message === 'string' ? b.message : fallback;
  return details.length > 0 && !details.every((d) => message.includes(d)) ? `${message}: ${details.join('; ')}` : message;
}
