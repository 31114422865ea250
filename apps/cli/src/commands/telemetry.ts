import type { Command } from 'commander';
import { id, print, time } from '../output/format.js';
import { keyValueView } from '../output/views.js';
import { outputOption, positiveInt } from '../options.js';
import { resolveDevice } from '../resolve.js';
import { seg, withSession } from '../session.js';

interface Point {
  readonly metric?: string;
  readonly value: number;
  readonly ts: number;
}

const pointColumns = [
  { header: 'METRIC', value: (p: Point) => p.metric ?? '-' },
  { header: 'VALUE', value: (p: Point) => String(p.value) },
  { header: 'AT', value: (p: Point, c: { wide: boolean; now: number }) => time(p.ts, c) },
];

export function registerTelemetry(program: Command): void {
  const telemetry = program.command('telemetry').description("Query your tenant's stored telemetry");
  telemetry
    .command('latest <device>')
    .description('newest value of each metric of a device (id or unique prefix)')
    .addOption(outputOption())
    .action(
      withSession(async (s, query: string) => {
        const device = await resolveDevice(s, query);
        const reply = await s.get<{ metrics: Point[] }>(`/v1/devices/${seg(device)}/telemetry/latest`);
        if (s.output === 'json' || s.output === 'yaml') return print(s.output, reply as never, keyValueView);
        await print(s.output, reply.metrics, { empty: 'No readings.', columns: pointColumns });
      }),
    );
  telemetry
    .command('range <device> <metric>')
    .description('values of one metric in a time range')
    .option('--from <time>', 'epoch ms or ISO 8601')
    .option('--to <time>', 'epoch ms or ISO 8601')
    .addOption(outputOption())
    .action(
      withSession(async (s, query: string, metric: string, o: { from?: string; to?: string }) => {
        const device = await resolveDevice(s, query);
        const q = new URLSearchParams({ metric, ...(o.from ? { from: o.from } : {}), ...(o.to ? { to: o.to } : {}) });
        const reply = await s.get<{ points: Point[] }>(`/v1/devices/${seg(device)}/telemetry?${q}`);
        if (s.output === 'json' || s.output === 'yaml') return print(s.output, reply as never, keyValueView);
        await print(
          s.output,
          reply.points.map((p) => ({ ...p, metric })),
          { empty: 'No readings.', columns: pointColumns },
        );
      }),
    );
  telemetry
    .command('devices')
    .description('devices by last seen')
    .addOption(outputOption())
    .action(
      withSession(async (s) => {
        const rows = await s.get<Array<{ deviceId: string; lastSeen: number; readings: number }>>('/v1/telemetry/devices');
        await print(s.output, rows, {
          empty: 'No devices have sent telemetry.',
          columns: [
            { header: 'DEVICE', value: (d, c) => id(d.deviceId, c) },
            { header: 'READINGS', value: (d) => String(d.readings) },
            { header: 'LAST SEEN', value: (d, c) => time(d.lastSeen, c) },
          ],
        });
      }),
    );
  telemetry
    .command('aggregate <metric>')
    .description('fleet aggregate of a metric')
    .option('--bucket <seconds>', 'bucket width in seconds', positiveInt, 60)
    .addOption(outputOption())
    .action(
      withSession(async (s, metric: string, o: { bucket: number }) => {
        const reply = await s.get(`/v1/telemetry/aggregate?${new URLSearchParams({ metric, bucketSeconds: String(o.bucket) })}`);
        await print(s.output === 'table' || s.output === 'wide' ? 'yaml' : s.output, reply as never, keyValueView);
      }),
    );
  telemetry
    .command('stats')
    .description('what has been stored')
    .addOption(outputOption())
    .action(
      withSession(async (s) => {
        await print(s.output, await s.get('/v1/telemetry/stats'), keyValueView);
      }),
    );
}
