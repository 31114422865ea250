import { readFile } from 'node:fs/promises';
import { print, type OutputFormat } from '../output.js';

export interface UpdatesApiOptions {
  readonly api: string;
  /** Absent when neither --token nor RAMPART_TOKEN gave one. */
  readonly token?: string | undefined;
  readonly output: OutputFormat;
}

/** `rampart image upload <file>`: a signed image, as built and signed by its owner (the key never comes here). */
export async function imageUpload(options: UpdatesApiOptions, file: string): Promise<number> {
  if (!options.token) throw new Error('no token: pass --token or set RAMPART_TOKEN');
  const bytes = await readFile(file);
  const response = await fetch(`${options.api.replace(/\/$/, '')}/v1/images`, {
    method: 'POST',
    headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/octet-stream' },
    body: new Uint8Array(bytes),
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status >= 300) {
    process.stderr.write(`${response.status} ${JSON.stringify(body)}\n`);
    return 1;
  }
  print(
    options.output,
    body,
    () => `${String(body['sha256'])}  ${String(body['component'])} ${String(body['version'])}  ${String(body['status'])}`,
  );
  return 0;
}

/** `--rollout` shorthand: `10,50,100` is percent waves; `exp:5x2` five devices then twice as many each wave. */
export function parseWaves(text: string): { kind: 'percent'; percents: number[] } | { kind: 'exponential'; first: number; factor: number } {
  const exponential = /^exp:(\d+)x(\d+(?:\.\d+)?)$/.exec(text);
  if (exponential !== null) return { kind: 'exponential', first: Number(exponential[1]), factor: Number(exponential[2]) };
  const percents = text.split(',').map((p) => Number(p.trim()));
  if (percents.length === 0 || percents.some((p) => !Number.isFinite(p)))
    throw new Error(`--waves: ${text} is neither 1,10,100 nor exp:5x2`);
  return { kind: 'percent', percents };
}
