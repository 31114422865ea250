import { InvalidArgumentError, Option, type Command } from 'commander';
import { print } from '../output/format.js';
import { deploymentDeviceView, deploymentView, type DeploymentDeviceRow, type DeploymentRow } from '../output/views.js';
import { duration, outputOption, percent, wholeNumber } from '../options.js';
import { allDeployments, groupsWithProducts, resolveDeployment, resolveGroup, resolveImage } from '../resolve.js';
import { seg, withSession, type Session } from '../session.js';
import { parseWaves } from '../waves.js';
import { watchDeployment, type DeploymentStatus, type WatchResult } from '../watch.js';
import type { OutputFormat } from '../output/format.js';

export const FAILURE_TYPES = ['FAILED', 'TIMED_OUT', 'ALL'] as const;

/** `--abort TYPE:MIN:PERCENT`: abort once PERCENT of at least MIN finished devices failed that way. */
export function abortRule(value: string): { failureType: string; minExecuted: number; thresholdPercentage: number } {
  const [type, min, pct, ...rest] = value.split(':');
  const failureType = type?.toUpperCase();
  if (
    rest.length > 0 ||
    failureType === undefined ||
    !(FAILURE_TYPES as readonly string[]).includes(failureType) ||
    min === undefined ||
    pct === undefined
  )
    throw new InvalidArgumentError(`expected TYPE:MIN:PERCENT with TYPE one of ${FAILURE_TYPES.join(', ')} (e.g. ALL:10:20)`);
  return { failureType, minExecuted: wholeNumber(min), thresholdPercentage: percent(pct) };
}

/** A duration that must say its unit: these options once took bare minutes, so `10` alone would be ambiguous. */
function timeWithUnit(value: string): number {
  if (/^\d+(?:\.\d+)?$/.test(value.trim()) && Number(value) !== 0)
    throw new InvalidArgumentError(`give a unit: ${value}m, ${value}s or ${value}h`);
  return duration(value);
}

function waves(value: string): ReturnType<typeof parseWaves> {
  try {
    return parseWaves(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

type Status = DeploymentStatus & { deployment: DeploymentRow; devices: DeploymentDeviceRow[] };

interface FollowOptions {
  readonly intervalMs: number;
  readonly timeoutMs: number | undefined;
  readonly output: OutputFormat;
}

/**
 * Polls a deployment until it ends: its exit code (0 completed, 1 ended otherwise, 2 could not watch). With
 * -o json/yaml stdout carries only documents, so the progress lines go to stderr.
 */
function follow(s: Session, id: string, o: FollowOptions): Promise<WatchResult<Status>> {
  const machine = o.output === 'json' || o.output === 'yaml';
  const stream = machine ? process.stderr : process.stdout;
  return watchDeployment(() => s.get<Status>(`/v1/deployments/${seg(id)}`), {
    intervalMs: Math.max(o.intervalMs, 200),
    ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }),
    tty: stream.isTTY === true,
    write: (text) => stream.write(text),
  });
}

/** `--timeout`/`--watch-timeout`: how long a watch waits for the end (exit 2 when reached). */
const watchTimeoutOption = (flag: string): Option =>
  new Option(`${flag} <time>`, 'with --watch: give up (exit 2) if the deployment has not ended by then (10m, 1h …)').argParser(duration);

export function registerDeployment(program: Command): void {
  const deployment = program
    .command('deployment')
    .description('Deployments: image sets rolled out to a group in health-gated waves (<deployment> is an id or a unique prefix)');
  deployment
    .command('create <group> <image...>')
    .description('deploy released images (digest, prefix or component@version) to a group (id, prefix or product/group)')
    .option('--product <product>', 'the product, when <group> is a bare group name')
    .addOption(
      new Option('--waves <waves>', 'cumulative percents (1,10,100) or exp:<first>x<factor>').argParser(waves).default(waves('100'), '100'),
    )
    .addOption(new Option('--soak <time>', 'wait after each wave (30s, 10m, 1h …)').argParser(timeWithUnit).default(0, 'none'))
    .addOption(
      new Option(
        '--abort <type:min:percent>',
        `abort when percent of at least min finished devices failed (type ${FAILURE_TYPES.join(', ')})`,
      )
        .argParser(abortRule)
        .default(abortRule('ALL:10:20'), 'ALL:10:20'),
    )
    .addOption(new Option('--timeout <time>', 'per-device answer timeout (30m, 2h …)').argParser(timeWithUnit).default(3_600_000, '1h'))
    .option('--retries <n>', 'offers before a silent device is timed out (0–10)', wholeNumber, 1)
    .option('-w, --watch', 'then follow it to its end, as `deployment status --watch` does')
    .addOption(new Option('--interval <time>', 'how often --watch polls (1s, 5s …)').argParser(duration).default(2000, '2s'))
    // --timeout is the per-device one here.
    .addOption(watchTimeoutOption('--watch-timeout'))
    .addOption(outputOption())
    .action(
      withSession(
        async (
          s,
          groupQuery: string,
          imageQueries: string[],
          o: {
            product?: string;
            waves: ReturnType<typeof parseWaves>;
            soak: number;
            abort: ReturnType<typeof abortRule>;
            timeout: number;
            retries: number;
            watch?: boolean;
            interval: number;
            watchTimeout?: number;
          },
        ) => {
          const group = await resolveGroup(s, groupQuery, o.product);
          const images = await Promise.all(imageQueries.map((q) => resolveImage(s, q)));
          const created = await s.send<DeploymentRow>('POST', '/v1/deployments', {
            groupId: group.id,
            images,
            rollout: {
              waves: o.waves,
              soakMinutes: o.soak / 60_000,
              abort: [o.abort],
              deviceTimeoutMinutes: o.timeout / 60_000,
              retries: o.retries,
            },
          });
          await print(s.output, { ...created, group: `${group.product}/${group.name}` }, deploymentView);
          if (o.watch === true)
            process.exitCode = (await follow(s, created.id, { intervalMs: o.interval, timeoutMs: o.watchTimeout, output: s.output })).code;
        },
      ),
    );
  deployment
    .command('list [group]')
    .description("deployments, newest first: one group's (id, prefix or product/group), or all")
    .option('--product <product>', 'the product, when [group] is a bare group name')
    .addOption(outputOption())
    .action(
      withSession(async (s, groupQuery: string | undefined, o: { product?: string }) => {
        const all = await allDeployments(s);
        const group = groupQuery === undefined ? undefined : await resolveGroup(s, groupQuery, o.product);
        await print(s.output, group === undefined ? all : all.filter((d) => d.groupId === group.id), deploymentView);
      }),
    );
  deployment
    .command('status <deployment>')
    .description(
      'the rollout and every device state; --watch follows it to the end (exit 0 completed, 1 aborted/rolled back/superseded, 2 could not watch or --timeout; a pause is reported and watched on)',
    )
    .option('-w, --watch', 'poll until the deployment ends; exit non-zero unless it completed')
    .addOption(new Option('--interval <time>', 'how often --watch polls (1s, 5s …)').argParser(duration).default(2000, '2s'))
    .addOption(watchTimeoutOption('--timeout'))
    .addOption(outputOption())
    .action(
      withSession(async (s, query: string, o: { watch?: boolean; interval: number; timeout?: number }) => {
        const id = await resolveDeployment(s, query);
        if (o.watch === true) {
          const { code, last } = await follow(s, id, { intervalMs: o.interval, timeoutMs: o.timeout, output: s.output });
          // The final document on stdout, for scripts that watch with -o json/yaml (progress went to stderr).
          if ((s.output === 'json' || s.output === 'yaml') && last !== undefined) await print(s.output, last as never, deploymentView);
          process.exitCode = code;
          return;
        }
        const current = await s.get<Status>(`/v1/deployments/${seg(id)}`);
        if (s.output === 'json' || s.output === 'yaml') return print(s.output, current as never, deploymentView);
        const group = (await groupsWithProducts(s)).find((g) => g.id === current.deployment.groupId);
        const groupName = group === undefined ? {} : { group: `${group.product}/${group.name}` };
        await print(s.output, { ...current.deployment, ...groupName, counts: current.counts }, deploymentView);
        process.stdout.write('\n');
        await print(s.output, current.devices, deploymentDeviceView);
      }),
    );
  for (const action of ['pause', 'resume', 'abort', 'rollback'] as const) {
    deployment
      .command(`${action} <deployment>`)
      .description(`${action} by hand`)
      .option('--reason <text>', 'why', 'by hand')
      .addOption(outputOption())
      .action(
        withSession(async (s, query: string, o: { reason: string }) => {
          const id = await resolveDeployment(s, query);
          await print(
            s.output,
            await s.send<DeploymentRow>('POST', `/v1/deployments/${seg(id)}/${action}`, { reason: o.reason }),
            deploymentView,
          );
        }),
      );
  }
}
