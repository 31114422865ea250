export interface ApiAnswer {
  readonly status: number;
  readonly body: unknown;
}

/**
 * One REST call as a tenant's client makes it: the bearer token, a Buffer
 * body sent as application/octet-stream (a signed image), anything else as
 * JSON; the answer's body parsed (undefined when empty).
 */
export async function callApi(baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<ApiAnswer> {
  const binary = Buffer.isBuffer(body);
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': binary ? 'application/octet-stream' : 'application/json' }),
    },
    ...(body === undefined ? {} : { body: binary ? new Uint8Array(body) : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}
