/**
 * Rampart's REST API over real HTTP, as any client calls it: the CLI, the
 * embedded demo's setup and the emulator pods. Imports nothing of the
 * platform, so the CLI that uses it starts fast.
 */
export class ApiClient {
  constructor(private readonly baseUrl: string) {}

  async call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    // Bytes (an image) go as they are; anything else as JSON.
    const bytes = body instanceof Uint8Array;
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': bytes ? 'application/octet-stream' : 'application/json' }),
      },
      ...(body === undefined ? {} : { body: bytes ? new Uint8Array(body) : JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  }

  async expect(method: string, path: string, token: string, body: unknown, ok: readonly number[]): Promise<unknown> {
    const result = await this.call(method, path, token, body);
    if (!ok.includes(result.status)) throw new Error(`${method} ${path}: ${result.status} ${JSON.stringify(result.body)}`);
    return result.body;
  }
}
