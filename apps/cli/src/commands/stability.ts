import type { StabilityQueryReply } from '@rampart/contracts';
import { ApiClient } from '@rampart/api-client';
import { print, type OutputFormat } from '../output.js';

export interface StabilityOptions {
  readonly api: string;
  /** Absent when neither --token nor RAMPART_TOKEN gave one. */
  readonly token?: string | undefined;
  readonly output: OutputFormat;
  readonly version?: string;
  readonly from?: string;
  readonly to?: string;
}

const percent = (ratio: number | null): string => (ratio === null ? '—' : `${(ratio * 100).toFixed(2)} %`);

/** `rampart stability <component>`: crash-free devices and hours per version (your tenant). */
export async function stability(options: StabilityOptions, component: string): Promise<number> {
  if (!options.token) throw new Error('no token: pass --token or set RAMPART_TOKEN');
  const params = new URLSearchParams({ component });
  if (options.version !== undefined) params.set('version', options.version);
  if (options.from !== undefined) params.set('from', options.from);
  if (options.to !== undefined) params.set('to', options.to);
  const result = await new ApiClient(options.api.replace(/\/$/, '')).call('GET', `/v1/stability?${params.toString()}`, options.token);
  if (result.status !== 200) {
    process.stderr.write(`${result.status} ${JSON.stringify(result.body)}\n`);
    return 1;
  }
  const reply = result.body as StabilityQueryReply;
  print(options.output, reply, () =>
    reply.cohorts.length === 0
      ? `No uptime or crashes of ${component} in this window.`
      : [
          'version          devices  crash-free devices  operating h  crash-free hours  crashes/1000 h',
          ...reply.cohorts.map(
            (c) =>
              `${c.version.padEnd(16)} ${String(c.devices).padStart(7)}  ${percent(c.crashFreeDevicesRatio).padStart(18)}  ${c.operatingHours
                .toFixed(1)
                .padStart(11)}  ${percent(c.crashFreeHoursRatio).padStart(16)}  ${(c.crashesPer1000Hours?.toFixed(2) ?? '—').padStart(14)}`,
          ),
        ].join('\n'),
  );
  return 0;
}
