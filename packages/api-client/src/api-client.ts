import { ApiHttpError, ApiUnreachableError, messageOf, networkCode } from './errors.js';

export interface ApiResult {
  readonly status: number;
  readonly body: unknown;
}

/**
 * Rampart's REST API over real HTTP, as any client calls it: the CLI, the
 * embedded demo's setup and the emulator pods. Imports nothing of the
 * platform, so the CLI that uses it starts fast.
 */
export class ApiClient {
  readonly baseUrl: string;

  constructor(baseUrl: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  /** One request; a network failure throws ApiUnreachableError naming this client's base URL. */
  async fetch(
    method: string,
    path: string,
    token: string | undefined,
    init: { body?: BodyInit; contentType?: string } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    if (init.contentType !== undefined) headers['content-type'] = init.contentType;
    try {
      return await fetch(`${this.baseUrl}${path}`, { method, headers, ...(init.body === undefined ? {} : { body: init.body }) });
    } catch (error) {
      throw new ApiUnreachableError(this.baseUrl, networkCode(error), { cause: error });
    }
  }

  /** A request with a JSON body, or bytes (an image) as they are; any status comes back (the caller decides). */
  async call(method: string, path: string, token: string | undefined, body?: unknown): Promise<ApiResult> {
    const init =
      body === undefined
        ? {}
        : body instanceof Uint8Array
          ? { body: new Uint8Array(body), contentType: 'application/octet-stream' }
          : { body: JSON.stringify(body), contentType: 'application/json' };
    const response = await this.fetch(method, path, token, init);
    return { status: response.status, body: await bodyOf(response) };
  }

  /** A JSON request that must succeed (2xx); otherwise ApiHttpError with the API's message. */
  async request<T = unknown>(method: string, path: string, token: string | undefined, body?: unknown): Promise<T> {
    return ok(method, path, await this.call(method, path, token, body)) as T;
  }

  /** Raw bytes (an image upload) that must succeed. */
  async upload<T = unknown>(path: string, token: string | undefined, bytes: Uint8Array<ArrayBuffer>): Promise<T> {
    const response = await this.fetch('POST', path, token, { body: bytes, contentType: 'application/octet-stream' });
    return ok('POST', path, { status: response.status, body: await bodyOf(response) }) as T;
  }

  async expect(method: string, path: string, token: string, body: unknown, accepted: readonly number[]): Promise<unknown> {
    const result = await this.call(method, path, token, body);
    if (!accepted.includes(result.status)) throw new Error(`${method} ${path}: ${result.status} ${JSON.stringify(result.body)}`);
    return result.body;
  }
}

async function bodyOf(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text; // a proxy's or a plain-text error page: kept as text for the message
  }
}

function ok(method: string, path: string, result: ApiResult): unknown {
  if (result.status >= 200 && result.status < 300) return result.body;
  throw new ApiHttpError(method, path, result.status, messageOf(result.body, `HTTP ${result.status}`), result.body);
}
