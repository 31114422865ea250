import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ApiHttpError, messageOf } from '@rampart/api-client';
import type { StabilityQueryReply } from '@rampart/contracts';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { print } from '../output/format.js';
import { bucketView, keyValueView, type BucketRow } from '../output/views.js';
import { outputOption, wholeNumber } from '../options.js';
import { resolveBucket, resolveDeployment, resolveGroup } from '../resolve.js';
import { seg, withSession } from '../session.js';

interface FilterFlags {
  from?: string;
  to?: string;
  device?: string;
  bucket?: string;
  version?: string;
}

function query(o: FilterFlags, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams(extra);
  if (o.from !== undefined) params.set('from', o.from);
  if (o.to !== undefined) params.set('to', o.to);
  if (o.device !== undefined) params.set('deviceId', o.device);
  if (o.bucket !== undefined) params.set('bucket', o.bucket);
  if (o.version !== undefined) params.set('version', o.version);
  return params.size === 0 ? '' : `?${params}`;
}

const filters = (command: Command): Command =>
  command
    .option('--from <time>', 'from (ISO 8601)')
    .option('--to <time>', 'until (ISO 8601)')
    .option('--device <id>', 'one device')
    .option('--bucket <bucket>', 'one bucket (signature or a unique prefix)')
    .option('--version <version>', 'one component version');

const percentText = (ratio: number | null): string => (ratio === null ? '-' : `${(ratio * 100).toFixed(2)} %`);

export function registerFailures(program: Command): void {
  const errorReport = program.command('error-report').description('Failure reports and their buckets (your tenant)');
  errorReport
    .command('list')
    .description('buckets: what fails, how often, on how many devices; --group or --deployment counts among its devices')
    .option('--version <version>', 'one component version')
    .option('--group <group>', 'only devices of this group (id, prefix or product/group)')
    .option('--product <product>', 'the product, when --group is a bare group name')
    .option('--deployment <deployment>', "only this deployment's devices (id or prefix)")
    .option('--wave <n>', "with --deployment: only that wave's devices (0 is the first)", wholeNumber)
    .option('--from <time>', 'with --group or --deployment: from (ISO 8601; default 30 days ago)')
    .option('--to <time>', 'with --group or --deployment: until (ISO 8601; default now)')
    .addOption(outputOption())
    .action(
      withSession(
        async (
          s,
          o: { version?: string; group?: string; product?: string; deployment?: string; wave?: number; from?: string; to?: string },
        ) => {
          if (o.group !== undefined && o.deployment !== undefined) throw new InvalidArgumentError('--group or --deployment, not both');
          const cohort = o.group !== undefined || o.deployment !== undefined;
          if (!cohort && (o.from !== undefined || o.to !== undefined || o.wave !== undefined))
            throw new InvalidArgumentError('--from, --to and --wave count within a --group or --deployment; name one');
          const params: Record<string, string> = {};
          if (o.version !== undefined) params['version'] = o.version;
          if (o.group !== undefined) params['deviceGroup'] = (await resolveGroup(s, o.group, o.product)).id;
          if (o.deployment !== undefined) params['deployment'] = await resolveDeployment(s, o.deployment);
          if (o.wave !== undefined) params['wave'] = String(o.wave);
          if (o.from !== undefined) params['from'] = o.from;
          if (o.to !== undefined) params['to'] = o.to;
          const search = new URLSearchParams(params).toString();
          await print(s.output, await s.get<BucketRow[]>(`/v1/failure-buckets${search === '' ? '' : `?${search}`}`), bucketView);
        },
      ),
    );
  errorReport
    .command('show <bucket>')
    .description('one bucket (signature or a unique prefix) and its latest reports')
    .addOption(outputOption())
    .action(
      withSession(async (s, query: string) => {
        const signature = await resolveBucket(s, query);
        await print(s.output, await s.get(`/v1/failure-buckets/${seg(signature)}`), keyValueView);
      }),
    );
  filters(errorReport.command('download').description('every matching report (no event or day cap)'))
    .addOption(new Option('--format <format>', 'file format').choices(['csv', 'json']).default('csv'))
    .option('--file <path>', 'write here instead of stdout')
    .action(
      withSession(async (s, o: FilterFlags & { format: string; file?: string }) => {
        const bucket = o.bucket === undefined ? {} : { bucket: await resolveBucket(s, o.bucket) };
        const path = `/v1/error-reports/export${query({ ...o, ...bucket }, { format: o.format })}`;
        const response = await s.client.fetch('GET', path, s.token);
        if (response.status !== 200 || response.body === null) {
          const text = await response.text();
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // plain text: its own message
          }
          throw new ApiHttpError('GET', path, response.status, messageOf(body, `HTTP ${response.status}`), body);
        }
        const source = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
        if (o.file === undefined) await pipeline(source, process.stdout, { end: false });
        else await pipeline(source, createWriteStream(o.file));
      }),
    );

  program
    .command('stability <component>')
    .description('crash-free devices and crash-free hours per version of a component, e.g. app:sensor or os (your tenant)')
    .option('--version <versions>', 'only these versions (comma-separated)')
    .option('--from <time>', 'from (ISO 8601; default 7 days ago)')
    .option('--to <time>', 'until (ISO 8601; default now)')
    .addOption(outputOption())
    .action(
      withSession(async (s, component: string, o: { version?: string; from?: string; to?: string }) => {
        const params = new URLSearchParams({ component });
        if (o.version !== undefined) params.set('version', o.version);
        if (o.from !== undefined) params.set('from', o.from);
        if (o.to !== undefined) params.set('to', o.to);
        const reply = await s.get<StabilityQueryReply>(`/v1/stability?${params}`);
        if (s.output === 'json' || s.output === 'yaml') return print(s.output, reply as never, keyValueView);
        await print(s.output, reply.cohorts, {
          empty: `No uptime or crashes of ${component} in this window.`,
          columns: [
            { header: 'VERSION', value: (c) => c.version },
            { header: 'DEVICES', value: (c) => String(c.devices) },
            { header: 'CRASH-FREE DEVICES', value: (c) => percentText(c.crashFreeDevicesRatio) },
            { header: 'OPERATING H', value: (c) => c.operatingHours.toFixed(1) },
            { header: 'CRASH-FREE HOURS', value: (c) => percentText(c.crashFreeHoursRatio) },
            { header: 'CRASHES/1000 H', value: (c) => c.crashesPer1000Hours?.toFixed(2) ?? '-' },
          ],
        });
      }),
    );
}
