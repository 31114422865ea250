import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ApiClient } from '@rampart/api-client';
import { apiCall } from './platform-api.js';
import { print, type OutputFormat } from '../output.js';

export interface ErrorReportOptions {
  readonly api: string;
  /** Absent when neither --token nor RAMPART_TOKEN gave one. */
  readonly token?: string | undefined;
  readonly output: OutputFormat;
  readonly from?: string;
  readonly to?: string;
  readonly device?: string;
  readonly bucket?: string;
  readonly version?: string;
}

function query(options: ErrorReportOptions, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams(extra);
  if (options.from !== undefined) params.set('from', options.from);
  if (options.to !== undefined) params.set('to', options.to);
  if (options.device !== undefined) params.set('deviceId', options.device);
  if (options.bucket !== undefined) params.set('bucket', options.bucket);
  if (options.version !== undefined) params.set('version', options.version);
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

function requireToken(options: ErrorReportOptions): string {
  if (!options.token) throw new Error('no token: pass --token or set RAMPART_TOKEN');
  return options.token;
}

/** `rampart error-report list`: the buckets (what goes wrong, how often, on how many devices). */
export async function errorReportList(options: ErrorReportOptions): Promise<number> {
  const token = requireToken(options);
  const result = await new ApiClient(options.api.replace(/\/$/, '')).call(
    'GET',
    `/v1/failure-buckets${query({ ...options, device: undefined, bucket: undefined, from: undefined, to: undefined })}`,
    token,
  );
  if (result.status !== 200) {
    process.stderr.write(`${result.status} ${JSON.stringify(result.body)}\n`);
    return 1;
  }
  const buckets = result.body as Array<{ signature: string; title: string; reports: number; devices: number; lastSeen: string }>;
  print(options.output, buckets, () =>
    buckets.length === 0
      ? 'No failures.'
      : buckets
          .map(
            (b) =>
              `${b.signature}  ${String(b.reports).padStart(7)} reports  ${String(b.devices).padStart(6)} devices  last ${b.lastSeen}  ${b.title}`,
          )
          .join('\n'),
  );
  return 0;
}

/** `rampart error-report show <bucket>`: one bucket with its latest reports. */
export function errorReportShow(options: ErrorReportOptions, signature: string): Promise<number> {
  return apiCall(options, 'GET', `/v1/failure-buckets/${encodeURIComponent(signature)}`);
}

/** `rampart error-report download`: every matching report, streamed to a file or stdout — no event or day cap. */
export async function errorReportDownload(options: ErrorReportOptions & { format: 'csv' | 'json'; file?: string }): Promise<number> {
  requireToken(options);
  const response = await fetch(`${options.api.replace(/\/$/, '')}/v1/error-reports/export${query(options, { format: options.format })}`, {
    headers: { authorization: `Bearer ${options.token}` },
  });
  if (response.status !== 200 || response.body === null) {
    process.stderr.write(`${response.status} ${await response.text()}\n`);
    return 1;
  }
  const source = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  if (options.file === undefined) await pipeline(source, process.stdout, { end: false });
  else await pipeline(source, createWriteStream(options.file));
  return 0;
}
