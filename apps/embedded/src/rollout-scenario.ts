import { DEMO_HARDWARE, encodeImage, platformImage, runFleet, sampleAppImage, type FleetReport, type SignedImage } from '@rampart/emulator';
import { setTimeout as sleep } from 'node:timers/promises';
import { demoFleetOptions } from './demo-fleet.js';
import type { EmbeddedPlatform } from './embedded-platform.js';
import { ApiClient } from '@rampart/api-client';

export interface RolloutScenarioOptions {
  readonly devices: number;
  /** Cumulative shares of the group per wave, rising to 100. */
  readonly percents: readonly number[];
  /** After the report: the fleet goes on until this aborts (absent: it stops with the scenario). */
  readonly keepFleetUntil?: AbortSignal;
  /** One line per step, for the operator watching. */
  readonly log: (line: string) => void;
}

export interface WaveTiming {
  readonly wave: number;
  readonly devices: number;
  /** Since the deployment was created: when the wave opened, and when its last device answered. */
  readonly openedAtMs: number;
  readonly doneAtMs: number | null;
}

export interface DeploymentOutcome {
  readonly id: string;
  readonly images: readonly string[];
  readonly state: string;
  readonly reason: string | null;
  readonly currentWave: number;
  readonly waves: readonly WaveTiming[];
  readonly devicesByState: Readonly<Record<string, number>>;
  /** The waves of the devices the deployment reached (offered it, or answered). */
  readonly touchedWaves: readonly number[];
  readonly durationMs: number;
}

export interface RolloutReport {
  readonly scenario: 'rollout';
  readonly devices: number;
  readonly productId: string;
  readonly groupId: string;
  readonly os: DeploymentOutcome & { readonly version: string };
  readonly app: DeploymentOutcome & {
    readonly version: string;
    /** The failures service's crash-free figures for the new version on the first wave's devices. */
    readonly crashFree: { readonly devices: number; readonly crashFreeDevices: number; readonly rate: number } | null;
  };
  /** The fleet's own counts at the end of its run; null when it goes on after the report. */
  readonly fleet: Pick<FleetReport, 'devicesAttested' | 'updatesInstalled' | 'updatesFailed' | 'reboots' | 'failureReportsSent'> | null;
  readonly durationMs: number;
  /** What did not happen, if anything. */
  readonly problems: readonly string[];
  readonly ok: boolean;
}

/** Each step's bound: a step that has not happened by then is reported, never waited on for ever. */
const STEP_DEADLINE_MS = 60_000;
const POLL_MS = 250;
const ENDED = new Set(['completed', 'aborted', 'paused', 'rolled-back', 'superseded']);

interface DeploymentStatus {
  deployment: { id: string; images: string[]; state: string; reason: string | null; currentWave: number; waves: number; createdAt: string };
  counts: Record<string, number>;
  devices: Array<{ deviceId: string; wave: number; state: string; updatedAt: string }>;
}

/**
 * The demo rollout, unattended, as an operator would do it over the REST
 * APIs: the demo fleet runs (claimed, with the update client); a product
 * and a device group with every demo device; a new OS signed with the demo
 * firmware key, uploaded, released and deployed in waves, watched until it
 * completes on every device; then a sensor app build that crashes on start,
 * stopped by its gate with only the first wave touched, and the failures
 * service's crash-free figures for that wave.
 */
export async function runRolloutScenario(
  platform: EmbeddedPlatform,
  options: RolloutScenarioOptions,
): Promise<{ report: RolloutReport; fleet: Promise<FleetReport> }> {
  const started = Date.now();
  const problems: string[] = [];
  const signers = platform.firmware.signers;
  const updates = new OperatorApi(platform.updates.url, platform.tenant.adminToken);
  const stop = new AbortController();
  let attested = 0;
  let claimed: readonly string[] = [];
  const fleet = runFleet({
    ...demoFleetOptions(platform, (ids) => {
      claimed = ids;
    }),
    devices: options.devices,
    ratePerDevice: 0.5,
    durationMs: Number.MAX_SAFE_INTEGER,
    metricsPerReading: 2,
    apps: ['sensor'],
    // The crashing build (sensor 1.1) fails on its first tick; the factory build (1.0) never does.
    appConfig: { sensor: { intervalMs: 250, crashRate: 1 } },
    // Short windows so a demo wave takes seconds: an update commits after 1 s of health, heartbeats every 2 s.
    healthWindowMs: 1_000,
    heartbeatIntervalMs: 2_000,
    onProgress: (p) => {
      attested = p.attested;
    },
    signal: options.keepFleetUntil === undefined ? stop.signal : AbortSignal.any([stop.signal, options.keepFleetUntil]),
  });
  const failed = fleet.then(
    () => 'the fleet stopped early',
    (error: unknown) => `the fleet failed: ${(error as Error).message}`,
  );
  try {
    options.log(`Demo fleet: ${options.devices} devices starting`);
    await until(() => attested === options.devices, 'every device attested', failed);

    const product = (await updates.json('POST', '/v1/products', { name: `Demo rollout ${new Date(started).toISOString()}` })) as {
      product: { id: string };
    };
    const group = (await updates.json('POST', '/v1/device-groups', {
      productId: product.product.id,
      name: 'Demo fleet',
      updatePolicy: 'all',
      osFeed: 'retail',
    })) as { id: string };
    for (const deviceId of claimed) await updates.json('PUT', `/v1/device-groups/${group.id}/devices/${deviceId}`);
    options.log(`Product ${product.product.id}, group ${group.id}: ${claimed.length} devices`);

    const waves = { kind: 'percent', percents: [...options.percents] };
    const osVersion = '2.0.0';
    const osImage = await release(updates, platformImage('os', osVersion, 2, signers, DEMO_HARDWARE));
    const os = await deployAndWatch(
      updates,
      options,
      'OS 2.0.0',
      { groupId: group.id, images: [osImage], rollout: { waves, deviceTimeoutMinutes: 1 } },
      failed,
    );
    if (os.state !== 'completed')
      problems.push(`the OS deployment ended ${os.state}${os.reason === null ? '' : ` (${os.reason})`}, not completed`);
    if ((os.devicesByState['installed'] ?? 0) !== options.devices)
      problems.push(`${os.devicesByState['installed'] ?? 0} of ${options.devices} devices installed the OS`);

    const appVersion = '1.1.0';
    const appImage = await release(updates, sampleAppImage('sensor-1.1', signers.apps, DEMO_HARDWARE));
    const firstWave = Math.max(1, Math.ceil(((options.percents[0] ?? 100) / 100) * options.devices));
    const app = await deployAndWatch(
      updates,
      options,
      'sensor 1.1.0',
      {
        groupId: group.id,
        images: [osImage, appImage],
        rollout: {
          waves,
          // A canary: half the first wave failing stops the rollout.
          abort: [{ failureType: 'ALL', minExecuted: Math.min(2, firstWave), thresholdPercentage: 50 }],
          deviceTimeoutMinutes: 1,
        },
      },
      failed,
    );
    if (app.state !== 'aborted') problems.push(`the crashing app's deployment ended ${app.state}, not aborted`);
    if (app.touchedWaves.some((w) => w !== 0)) problems.push(`the crashing app reached waves ${app.touchedWaves.join(', ')}`);
    const crashFree = await crashFreeOf(platform, app, failed).catch((error: unknown) => {
      problems.push(`no crash-free figures from the failures service: ${(error as Error).message}`);
      return null;
    });
    if (crashFree !== null && crashFree.rate >= 1) problems.push('the failures service saw no crash of the app on the first wave');

    const report: Omit<RolloutReport, 'fleet'> = {
      scenario: 'rollout',
      devices: options.devices,
      productId: product.product.id,
      groupId: group.id,
      os: { ...os, version: osVersion },
      app: { ...app, version: appVersion, crashFree },
      durationMs: Date.now() - started,
      problems,
      ok: problems.length === 0,
    };
    return { report: { ...report, fleet: await fleetFigures(fleet, options.keepFleetUntil, stop) }, fleet };
  } catch (error) {
    stop.abort();
    await fleet.catch(() => undefined);
    throw error;
  }
}

/** The fleet's counts at the end of its run (it is stopped now), or null if it goes on. */
async function fleetFigures(
  fleet: Promise<FleetReport>,
  keep: AbortSignal | undefined,
  stop: AbortController,
): Promise<RolloutReport['fleet']> {
  if (keep !== undefined) return null;
  stop.abort();
  const r = await fleet;
  return {
    devicesAttested: r.devicesAttested,
    updatesInstalled: r.updatesInstalled,
    updatesFailed: r.updatesFailed,
    reboots: r.reboots,
    failureReportsSent: r.failureReportsSent,
  };
}

/** Polls `done` until it holds; fails naming `what` at the step deadline, or at once if `failed` settles first. */
async function until(done: () => boolean | Promise<boolean>, what: string, failed: Promise<string>): Promise<void> {
  const deadline = Date.now() + STEP_DEADLINE_MS;
  let reason: string | undefined;
  void failed.then((r) => {
    reason = r;
  });
  while (!(await done())) {
    if (reason !== undefined) throw new Error(`${what}: ${reason}`);
    if (Date.now() > deadline) throw new Error(`${what}: not within ${STEP_DEADLINE_MS / 1000} s`);
    await sleep(POLL_MS);
  }
}

/** Uploads a signed image and releases it; answers its digest. */
async function release(api: OperatorApi, image: SignedImage): Promise<string> {
  const uploaded = (await api.json('POST', '/v1/images', encodeImage(image))) as { sha256: string };
  await api.json('POST', `/v1/images/${uploaded.sha256}/release`);
  return uploaded.sha256;
}

/** Creates a deployment and watches it until it ends, noting when each wave opened and when its last device answered. */
async function deployAndWatch(
  api: OperatorApi,
  options: RolloutScenarioOptions,
  what: string,
  body: unknown,
  failed: Promise<string>,
): Promise<DeploymentOutcome> {
  const created = (await api.json('POST', '/v1/deployments', body)) as { id: string; createdAt: string };
  const t0 = Date.parse(created.createdAt);
  options.log(`Deployment ${created.id} (${what}) created`);
  const opened = new Map<number, number>([[0, 0]]);
  let status: DeploymentStatus | undefined;
  await until(
    async () => {
      status = (await api.json('GET', `/v1/deployments/${created.id}`)) as DeploymentStatus;
      const wave = status.deployment.currentWave;
      if (!opened.has(wave)) {
        opened.set(wave, Date.now() - t0);
        options.log(`  wave ${wave} open (${status.counts['installed'] ?? 0} installed so far)`);
      }
      return ENDED.has(status.deployment.state);
    },
    `the ${what} deployment ending`,
    failed,
  );
  const final = status!;
  const answered = new Set(['installed', 'failed', 'timed-out']);
  const waves: WaveTiming[] = [...opened].map(([wave, openedAtMs]) => {
    const members = final.devices.filter((d) => d.wave === wave);
    const done = members.every((d) => answered.has(d.state)) && members.length > 0;
    return {
      wave,
      devices: members.length,
      openedAtMs,
      doneAtMs: done ? Math.max(...members.map((d) => Date.parse(d.updatedAt))) - t0 : null,
    };
  });
  const { members: _members, ...devicesByState } = final.counts;
  void _members;
  options.log(
    `  ${final.deployment.state}${final.deployment.reason === null ? '' : `: ${final.deployment.reason}`} (${Object.entries(devicesByState)
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${n} ${s}`)
      .join(', ')})`,
  );
  return {
    id: created.id,
    images: final.deployment.images,
    state: final.deployment.state,
    reason: final.deployment.reason,
    currentWave: final.deployment.currentWave,
    waves,
    devicesByState,
    touchedWaves: [...new Set(final.devices.filter((d) => d.state !== 'pending').map((d) => d.wave))].sort((a, b) => a - b),
    durationMs: Date.now() - t0,
  };
}

/**
 * The failures service's crash-free figures for the new app version on the
 * devices it reached: its crash reports and heartbeats are ingested
 * asynchronously, so this waits until every reached device is counted.
 */
async function crashFreeOf(
  platform: EmbeddedPlatform,
  app: DeploymentOutcome,
  failed: Promise<string>,
): Promise<{ devices: number; crashFreeDevices: number; rate: number }> {
  const failures = new OperatorApi(platform.failures.url, platform.tenant.adminToken);
  const reached = Object.entries(app.devicesByState)
    .filter(([state]) => state !== 'pending')
    .reduce((n, [, count]) => n + count, 0);
  let cohort: { devices: number; crashFreeDevices: number } | undefined;
  await until(
    async () => {
      const view = (await failures.json('GET', `/v1/stability?component=app:sensor&deployment=${app.id}&wave=0`)) as {
        cohorts: Array<{ version: string; devices: number; crashFreeDevices: number }>;
      };
      cohort = view.cohorts.find((c) => c.version === '1.1.0');
      return cohort !== undefined && cohort.devices >= reached;
    },
    "the first wave's crashes in the failures service",
    failed,
  );
  const { devices, crashFreeDevices } = cohort!;
  return { devices, crashFreeDevices, rate: devices === 0 ? 1 : crashFreeDevices / devices };
}

/** A tenant operator's REST calls: JSON, or a Buffer as octet-stream; anything but 2xx is an error naming the call. */
class OperatorApi {
  private readonly client: ApiClient;
  constructor(
    baseUrl: string,
    private readonly token: string,
  ) {
    this.client = new ApiClient(baseUrl);
  }

  json(method: string, path: string, body?: unknown): Promise<unknown> {
    return this.client.expect(method, path, this.token, body, [200, 201, 204]);
  }
}
