import { createPrivateKey, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEMO_HARDWARE, encodeImage, platformImage } from '@rampart/emulator';
import { ImageSigner } from '@rampart/trust';
import { createTestDatabase, queryDatabase, waitFor, type TestDatabase } from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerAvailable, removeContainers } from './support/docker.js';
import { PlanError, planPod, type PlanContext } from './support/pod-plan.js';
import { RunningPod } from './support/pod-runner.js';
import { CHART, ROOT, isHelmTest, objectsOfKind, renderChart, type K8sObject, type RenderedChart } from './support/rendered-chart.js';
import { StandaloneNats } from './support/nats-server.js';

const IMAGE = process.env['IMAGE'] ?? 'rampart:dev';
const RELEASE = 'rampart';
const NAMESPACE = 'rampart';
/** Every port the chart's containers listen on (host networking: they must be free). */
const CHART_PORTS = [8080, 8081, 8083, 8084, 8085, 8443, 8883];
const VALUES = join(CHART, 'ci/containers-values.yaml');

async function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/**
 * The Helm chart's workloads run for real: `helm template` with
 * ci/containers-values.yaml, then every Rampart workload — the migrations
 * Job first, then the Deployments and the fleet StatefulSet — started as
 * containers of the image exactly as rendered (support/pod-plan.ts), on the
 * machine's PostgreSQL and a nats-server of the run's own. Then what a user
 * of `helm install` meets: the fleet's first run, an OS rollout, `helm test`,
 * crashed pods restarted, and every pod deleted.
 */
describe.skipIf(!(await dockerAvailable()))('the chart, run as containers from its rendered spec', () => {
  const prefix = `rampart-ct-${randomBytes(3).toString('hex')}`;
  const started: RunningPod[] = [];
  const figures: Record<string, unknown> = {};
  let nats: StandaloneNats;
  let db: TestDatabase;
  let workDir = '';
  let chart: RenderedChart;
  let context: PlanContext;
  let fleet: RunningPod;
  const deployments = new Map<string, RunningPod>();

  const workload = (kind: string, name: string): K8sObject => {
    const found = chart.objects.find((o) => o.kind === kind && o.metadata.name === `${RELEASE}-${name}`);
    if (found === undefined) throw new Error(`the render has no ${kind} ${RELEASE}-${name}`);
    return found;
  };
  const start = async (object: K8sObject, planContext = context): Promise<RunningPod> => {
    const pod = await RunningPod.start(planPod(planContext, object));
    started.push(pod);
    return pod;
  };
  const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => queryDatabase<T>(db.url, text, params);
  const demoToken = async () => (await readFile(join(workDir, 'claims', `state-${RELEASE}-fleet-0`, 'tenant-demo.token'), 'utf8')).trim();

  beforeAll(async () => {
    const busy = [];
    for (const port of CHART_PORTS) if (await portInUse(port)) busy.push(port);
    if (busy.length > 0) throw new Error(`ports ${busy.join(', ')} are taken: the chart's containers share the host's network`);
    nats = await StandaloneNats.start();
    db = await createTestDatabase();
    workDir = await mkdtemp(join(tmpdir(), 'rampart-containers-'));
    const [repository, tag] = IMAGE.split(':') as [string, string];
    chart = renderChart({
      release: RELEASE,
      namespace: NAMESPACE,
      valuesFiles: [VALUES],
      sets: [`nats.externalUrl=${nats.url}`, `image.repository=${repository}`, `image.tag=${tag}`, 'image.pullPolicy=Never'],
    });
    // What a user bringing their own PostgreSQL creates beforehand (postgresql.external.existingSecret).
    const databaseSecret: K8sObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'rampart-database' },
      stringData: { url: db.url },
    };
    context = { chart, extraObjects: [databaseSecret], prefix, workDir };
  }, 120_000);

  afterAll(async () => {
    // CONTAINERS_KEEP=1 leaves the containers, database, NATS and files for a look after a failure.
    if (process.env['CONTAINERS_KEEP'] !== '1') {
      await removeContainers(prefix).catch(() => undefined);
      await nats?.stop();
      await db?.drop();
      if (workDir !== '') await rm(workDir, { recursive: true, force: true });
    }
    await mkdir(join(ROOT, 'reports'), { recursive: true });
    await writeFile(join(ROOT, 'reports/containers.json'), `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`container tier: ${JSON.stringify(figures)}`);
  }, 120_000);

  it('names the workload and container of a wrong env reference, a missing file and a failing probe', async () => {
    const attestation = workload('Deployment', 'attestation');
    const mutate = (change: (container: any) => void): K8sObject => {
      const copy = structuredClone(attestation) as any;
      change(copy.spec.template.spec.containers[0]);
      copy.metadata.name = `${attestation.metadata.name}-broken`;
      return copy as K8sObject;
    };
    const wrongKey = mutate((c) => (c.env.find((e: any) => e.name === 'CA_KEY_ENCRYPTION_KEY').valueFrom.secretKeyRef.key = 'CA_KEY'));
    expect(() => planPod(context, wrongKey)).toThrow(
      new PlanError(
        `Deployment ${RELEASE}-attestation-broken, container attestation: env CA_KEY_ENCRYPTION_KEY: Secret ${RELEASE}-secrets has no key CA_KEY`,
      ),
    );
    // A file the service needs is not where the env says: the container exits before it is ready, and says why.
    const missingFile = mutate((c) => {
      c.env.find((e: any) => e.name === 'PLATFORM_CA_CERT_FILE').value = '/etc/rampart/pki/no-such.crt';
    });
    await expect(start(missingFile).then((pod) => pod.waitReady())).rejects.toThrow(
      /Deployment rampart-attestation-broken, container attestation exited 1 before it was ready:[\s\S]*no-such\.crt/,
    );
    // A probe at a path nothing serves, with a short budget: it fails naming the probe.
    const badProbe = mutate((c) => {
      c.readinessProbe.httpGet.path = '/no-such-probe';
      c.startupProbe = { ...c.startupProbe, failureThreshold: 3 };
      c.env.push({ name: 'HTTP_PORT', value: '18083' });
      c.ports[0].containerPort = 18083;
    });
    const probed = await start(badProbe, { ...context, prefix: `${prefix}-probe` });
    await expect(probed.waitReady()).rejects.toThrow(
      new RegExp(
        `Deployment rampart-attestation-broken, container attestation: readiness probe http://127.0.0.1:18083/no-such-probe did not pass`,
      ),
    );
    await removeContainers(`${prefix}-probe`);
    await removeContainers(`${prefix}-rampart-attestation-broken`);
  }, 120_000);

  it('runs the migrations Job first: every service brings its schema up to date and exits 0', async () => {
    const jobs = objectsOfKind(chart, 'Job');
    expect(jobs.map((j) => j.metadata.name)).toEqual([`${RELEASE}-migrate-1`]);
    const began = Date.now();
    await (await start(jobs[0]!)).waitSucceeded(120_000);
    figures['migrateJobMs'] = Date.now() - began;
    const schemas = await sql<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE nspname = ANY($1) ORDER BY 1`, [
      ['attestation', 'failures', 'telemetry', 'updates'],
    ]);
    expect(schemas.map((s) => s.nspname)).toEqual(['attestation', 'failures', 'telemetry', 'updates']);
  }, 180_000);

  it('starts every Deployment and StatefulSet as rendered, and each passes its readiness probe', async () => {
    const kinds = [...objectsOfKind(chart, 'Deployment'), ...objectsOfKind(chart, 'StatefulSet')];
    expect(kinds.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      ['attestation', 'failures', 'gateway', 'telemetry', 'updates']
        .map((s) => `Deployment/${RELEASE}-${s}`)
        .concat(`StatefulSet/${RELEASE}-fleet`)
        .sort(),
    );
    const began = Date.now();
    for (const object of objectsOfKind(chart, 'Deployment')) {
      deployments.set(object.metadata.name.slice(RELEASE.length + 1), await start(object));
    }
    await Promise.all([...deployments.values()].map((pod) => pod.waitReady()));
    figures['servicesReadyMs'] = Date.now() - began;
    fleet = await start(workload('StatefulSet', 'fleet'));
  }, 240_000);

  it('first run: every emulated device is attested and its telemetry stored, with no step a user would not guess', async () => {
    const devices = Number(
      chart.objects
        .find((o) => o.kind === 'StatefulSet')!
        .spec.template.spec.containers[0].env.find((e: any) => e.name === 'DEVICES_PER_POD').value,
    );
    const began = Date.now();
    await waitFor(
      async () =>
        Number((await sql<{ n: string }>(`SELECT count(*) AS n FROM attestation.devices WHERE tenant_id = 'demo' AND last_pass`))[0]!.n) ===
        devices,
      {
        timeoutMs: 120_000,
        intervalMs: 1_000,
        describe: async () => `${devices} devices attested (fleet logs: ${await fleet.logs('fleet', 20)})`,
      },
    );
    figures['devicesAttested'] = devices;
    figures['firstAttestedMs'] = Date.now() - began;
    await waitFor(
      async () => Number((await sql<{ n: string }>(`SELECT count(DISTINCT device_id) AS n FROM telemetry.readings`))[0]!.n) === devices,
      { timeoutMs: 60_000, intervalMs: 1_000, describe: `telemetry from all ${devices} devices stored` },
    );
    figures['firstTelemetryMs'] = Date.now() - began;
    // The outside view: the demo tenant's own token (kept on the fleet pod's volume, as NOTES.txt says) lists them.
    const listed = (await (
      await fetch('http://127.0.0.1:8083/v1/devices', { headers: { authorization: `Bearer ${await demoToken()}` } })
    ).json()) as unknown[];
    expect(listed).toHaveLength(devices);
  }, 240_000);

  it('rolls an uploaded OS image out to the containerised fleet', async () => {
    const token = await demoToken();
    const updates = async (method: string, path: string, body?: unknown): Promise<any> => {
      const binary = Buffer.isBuffer(body);
      const response = await fetch(`http://127.0.0.1:8085${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': binary ? 'application/octet-stream' : 'application/json' }),
        },
        ...(body === undefined ? {} : { body: binary ? new Uint8Array(body) : JSON.stringify(body) }),
      });
      const text = await response.text();
      expect(response.status, `${method} ${path}: ${text}`).toBeLessThan(300);
      return text === '' ? undefined : JSON.parse(text);
    };
    const ids = (await sql<{ id: string }>(`SELECT id FROM attestation.devices WHERE tenant_id = 'demo'`)).map((d) => d.id);
    const product = (await updates('POST', '/v1/products', { name: 'Containerised fleet' })) as {
      groups: Array<{ id: string; name: string }>;
    };
    const group = product.groups.find((g) => g.name === 'Production')!.id;
    for (const id of ids) await updates('PUT', `/v1/device-groups/${group}/devices/${id}`);
    // Signed with the device maker's key the fleet's devices are fused to trust (the chart's firmware-signing Secret).
    const signing = chart.objects.find((o) => o.kind === 'Secret' && o.metadata.name === `${RELEASE}-firmware-signing`)!;
    const signer = (key: string) => ImageSigner.fromPrivateKey(createPrivateKey(Buffer.from(signing.data![key]!, 'base64')));
    const os = platformImage('os', '2.0.0', 2, { platform: signer('platform.key'), apps: signer('apps.key') }, DEMO_HARDWARE);
    const uploaded = (await updates('POST', '/v1/images', encodeImage(os))) as { sha256: string };
    await updates('POST', `/v1/images/${uploaded.sha256}/release`);
    const began = Date.now();
    const deployment = (await updates('POST', '/v1/deployments', {
      groupId: group,
      images: [uploaded.sha256],
      rollout: { waves: { kind: 'percent', percents: [100] }, deviceTimeoutMinutes: 3 },
    })) as { id: string };
    let counts: Record<string, number> = {};
    await waitFor(
      async () => {
        const status = (await updates('GET', `/v1/deployments/${deployment.id}`)) as {
          deployment: { state: string };
          counts: Record<string, number>;
        };
        counts = status.counts;
        return status.deployment.state === 'completed';
      },
      { timeoutMs: 180_000, intervalMs: 1_000, describe: () => `the OS deployment completed (counts: ${JSON.stringify(counts)})` },
    );
    expect(counts).toMatchObject({ members: ids.length, installed: ids.length, failed: 0 });
    figures['devicesUpdated'] = counts['installed'];
    figures['rolloutMs'] = Date.now() - began;
  }, 240_000);

  it("runs the chart's helm test pod: every service answers /readyz", async () => {
    const tests = chart.objects.filter(isHelmTest);
    expect(tests.map((t) => t.metadata.name)).toEqual([`${RELEASE}-test-ready`]);
    await (await start(tests[0]!)).waitSucceeded(60_000);
  }, 90_000);

  it('keeps every acknowledged reading, exactly once, when the gateway and telemetry containers are killed and restarted', async () => {
    const stored = async () => Number((await sql<{ n: string }>(`SELECT count(*) AS n FROM telemetry.readings`))[0]!.n);
    const before = await stored();
    await sleep(5_000);
    await deployments.get('telemetry')!.kill('telemetry');
    await deployments.get('gateway')!.kill('gateway');
    await sleep(3_000);
    // As the kubelet would: the same containers, started again.
    await deployments.get('gateway')!.restart('gateway');
    await deployments.get('telemetry')!.restart('telemetry');
    await waitFor(async () => (await stored()) > before + 1, { timeoutMs: 60_000, describe: 'telemetry stored again after the restarts' });
    await sleep(10_000);
    // The fleet stops first (its devices wait for their last acknowledgements), then prints its counts.
    const fleetExit = await fleet.terminate();
    figures['terminations'] = fleetExit;
    const summaryLine = (await fleet.logs('fleet', 50)).split('\n').find((l) => l.startsWith('{"fleetPod"'));
    expect(summaryLine, await fleet.logs('fleet', 50)).toBeDefined();
    const report = JSON.parse(summaryLine!) as { acknowledged: number; published: number; unacknowledged: number; devices: number };
    let readings = { rows: 0, values: 0, distinct: 0 };
    await waitFor(
      async () => {
        const [row] = await sql<{ rows: string; values: string; distinct: string }>(
          `SELECT count(*) AS rows, count(DISTINCT (device_id, metric, seq)) AS values, count(DISTINCT (device_id, seq)) AS distinct
             FROM telemetry.readings`,
        );
        readings = { rows: Number(row!.rows), values: Number(row!.values), distinct: Number(row!.distinct) };
        return readings.distinct >= report.acknowledged;
      },
      { timeoutMs: 60_000, describe: () => `every acknowledged reading stored (${JSON.stringify(readings)} vs ${report.acknowledged})` },
    );
    // Each value of each reading once: a redelivered batch or a re-sent reading adds no row.
    expect(readings.rows).toBe(readings.values);
    expect(readings.distinct).toBeLessThanOrEqual(report.published);
    figures['acknowledged'] = report.acknowledged;
    figures['readingsStored'] = readings.distinct;
    figures['lost'] = Math.max(0, report.acknowledged - readings.distinct);
    expect(fleetExit).toEqual([expect.objectContaining({ exitCode: 0 })]);
    expect(fleetExit[0]!.ms).toBeLessThan(fleetExit[0]!.graceMs);
  }, 240_000);

  it('stops every container on SIGTERM with exit 0 within its terminationGracePeriodSeconds', async () => {
    const results = (await Promise.all([...deployments.values()].map((pod) => pod.terminate()))).flat();
    figures['terminations'] = [...(figures['terminations'] as unknown[]), ...results];
    for (const result of results) {
      expect(result, result.label).toMatchObject({ exitCode: 0 });
      expect(result.ms, result.label).toBeLessThan(result.graceMs);
    }
  }, 120_000);
});
