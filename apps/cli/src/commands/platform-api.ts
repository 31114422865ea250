import { ApiClient } from '@rampart/api-client';
import { print, type OutputFormat } from '../output.js';

export interface ApiOptions {
  readonly api: string;
  /** Absent when neither --token nor RAMPART_TOKEN gave one. */
  readonly token?: string | undefined;
  readonly output: OutputFormat;
}

/** One call to the attestation API, printed as JSON (or pretty text). */
export async function apiCall(options: ApiOptions, method: string, path: string, body?: unknown): Promise<number> {
  if (!options.token) throw new Error('no token: pass --token or set RAMPART_TOKEN');
  const result = await new ApiClient(options.api.replace(/\/$/, '')).call(method, path, options.token, body);
  if (result.status >= 300) {
    process.stderr.write(`${result.status} ${JSON.stringify(result.body)}\n`);
    return 1;
  }
  print(options.output, result.body ?? { ok: true }, () => JSON.stringify(result.body ?? { ok: true }, null, 2));
  return 0;
}
