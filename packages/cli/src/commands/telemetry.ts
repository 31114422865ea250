import { print, type OutputFormat } from '../output.js';

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url);
  const body: unknown = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (body as { message?: string; details?: string[] }).details?.join('; ') ?? (body as { message?: string }).message;
    throw new Error(`${response.status} ${message ?? response.statusText}`);
  }
  return body;
}

export async function telemetryQuery(api: string, path: string, output: OutputFormat): Promise<number> {
  const body = await getJson(`${api.replace(/\/$/, '')}${path}`);
  print(output, body, () => JSON.stringify(body, null, 2));
  return 0;
}
