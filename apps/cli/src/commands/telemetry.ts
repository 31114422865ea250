import { print, type OutputFormat } from '../output.js';

export interface TelemetryApi {
  readonly url: string;
  readonly token: string | undefined;
}

async function getJson(api: TelemetryApi, path: string): Promise<unknown> {
  if (!api.token) throw new Error('no token: pass --token or set RAMPART_TOKEN');
  const response = await fetch(`${api.url.replace(/\/$/, '')}${path}`, { headers: { authorization: `Bearer ${api.token}` } });
  const body: unknown = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (body as { message?: string; details?: string[] }).details?.join('; ') ?? (body as { message?: string }).message;
    throw new Error(`${response.status} ${message ?? response.statusText}`);
  }
  return body;
}

export async function telemetryQuery(api: TelemetryApi, path: string, output: OutputFormat): Promise<number> {
  const body = await getJson(api, path);
  print(output, body, () => JSON.stringify(body, null, 2));
  return 0;
}
