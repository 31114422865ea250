import { createPrivateKey, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_HARDWARE, encodeImage, platformImage } from '@rampart/emulator';
import { ImageSigner } from '@rampart/trust';
import { callApi, createTestDatabase, queryDatabase, waitFor, type TestDatabase } from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerTierSkipped, dockerAvailable, removeContainers } from './support/docker.js';
import { PlanError, planPod, type PlanContext } from './support/pod-plan.js';
import { RunningPod } from './support/pod-runner.js';
import { CHART, ROOT, isHelmTest, objectsOfKind, renderChart, type K8sObject, type RenderedChart } from './support/rendered-chart.js';
import { StandaloneNats } from './support/nats-server.js';

const IMAGE = process.env['IMAGE'] ?? 'rampart:dev';
const RELEASE = 'rampart';
const NAMESPACE = 'rampart';
const VALUES = join(CHART, 'ci/containers-values.yaml');
/** The API front's container (and, in ci/containers-values.yaml, Service) port: every REST call below goes through it. */
const API = 'http://127.0.0.1:8000';

async function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/**
 * The Helm chart's workloads run for real: `helm template` with
 * ci/containers-values.yaml, then every Rampart workload started as
 * containers of the image exactly as rendered (support/pod-plan.ts), on the
 * machine's PostgreSQL and a nats-server of the run's own, in the order
 * `helm install --wait` uses: the Deployments and StatefulSets at once on an
 * empty database, then (all ready) the post-install migrations Job, then the
 * test hook. Then what a user meets: the fleet's first run, an OS rollout,
 * crashed pods restarted, and every pod deleted. Outside CI a machine
 * without a Docker engine skips it; in CI it fails.
 */
describe.skipIf(await containerTierSkipped())('the chart, run as containers from its rendered spec', () => {
  const prefix = `rampart-ct-${randomBytes(3).toString('hex')}`;
  const started: RunningPod[] = [];
  const figures: Record<string, unknown> = {};
  let nats: StandaloneNats;
  let db: TestDatabase;
  /** Where the broken workloads of the first test run, so the install below starts on an empty database. */
  let scratch: TestDatabase;
  let workDir = '';
  let demoTenant = '';
  let fleetStartedAt = 0;
  let devices = 0;
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
  const fleetEnv = (name: string): string | undefined =>
    (workload('StatefulSet', 'fleet').spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>).find(
      (e) => e.name === name,
    )?.value;
  // The demo tenant's token, where the fleet pod keeps it (NOTES.txt tells a user to read it from there).
  const demoToken = async () =>
    (await readFile(join(workDir, 'claims', `state-${RELEASE}-fleet-0`, `tenant-${demoTenant}.token`), 'utf8')).trim();
  const storedReadings = async () => Number((await sql<{ n: string }>(`SELECT count(*) AS n FROM telemetry.readings`))[0]!.n);

  beforeAll(async () => {
    if (!(await dockerAvailable()))
      throw new Error('no Docker engine answers: the container tier needs one (scripts/ensure-services.sh starts dockerd)');
    nats = await StandaloneNats.start();
    db = await createTestDatabase();
    scratch = await createTestDatabase();
    workDir = await mkdtemp(join(tmpdir(), 'rampart-containers-'));
    const colon = IMAGE.lastIndexOf(':');
    const [repository, tag] = [IMAGE.slice(0, colon), IMAGE.slice(colon + 1)];
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
    // Host networking: every port a rendered container listens on must be free.
    const ports = chart.objects
      .filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind))
      .flatMap((o) =>
        (o.spec.template.spec.containers as Array<{ ports?: Array<{ containerPort: number }> }>).flatMap((c) => c.ports ?? []),
      )
      .map((p) => p.containerPort);
    const busy = [];
    for (const port of ports) if (await portInUse(port)) busy.push(port);
    if (busy.length > 0) throw new Error(`ports ${busy.join(', ')} are taken: the chart's containers share the host's network`);
    demoTenant = fleetEnv('DEMO_TENANT') ?? '';
    devices = Number(fleetEnv('DEVICES_PER_POD'));
  }, 120_000);

  afterAll(async () => {
    // CONTAINERS_KEEP=1 leaves the containers, database, NATS and files for a look after a failure.
    if (process.env['CONTAINERS_KEEP'] !== '1') {
      await removeContainers(prefix).catch(() => undefined);
      await nats?.stop();
      await db?.drop();
      await scratch?.drop();
      if (workDir !== '') await rm(workDir, { recursive: true, force: true });
    }
    await mkdir(join(ROOT, 'reports'), { recursive: true });
    await writeFile(join(ROOT, 'reports/containers.json'), `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`container tier: ${JSON.stringify(figures)}`);
  }, 120_000);

  it('names the workload and container of a wrong env reference, a missing file and a failing probe', async () => {
    const attestation = workload('Deployment', 'attestation');
    const onScratch: PlanContext = {
      ...context,
      extraObjects: [{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'rampart-database' }, stringData: { url: scratch.url } }],
    };
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
    // A probe at a path nothing serves, with a short budget: it fails naming the probe.
    const badProbe = mutate((c) => {
      c.readinessProbe.httpGet.path = '/no-such-probe';
      c.readinessProbe.failureThreshold = 1;
      c.env.push({ name: 'HTTP_PORT', value: '18083' }); // the later entry wins, as in Kubernetes
      c.ports[0].containerPort = 18083;
    });
    // The two pods at once (their names and ports differ): each start is mostly Node loading the service.
    await Promise.all([
      expect(start(missingFile, onScratch).then((pod) => pod.waitReady())).rejects.toThrow(
        /Deployment rampart-attestation-broken, container attestation exited 1 before it was ready:[\s\S]*no-such\.crt/,
      ),
      expect(start(badProbe, { ...onScratch, prefix: `${prefix}-probe` }).then((pod) => pod.waitReady())).rejects.toThrow(
        'Deployment rampart-attestation-broken, container attestation: readiness probe http://127.0.0.1:18083/no-such-probe did not pass',
      ),
    ]);
    await removeContainers(`${prefix}-probe`);
    await removeContainers(`${prefix}-rampart-attestation-broken`);
  }, 120_000);

  it('installs as helm install --wait does: every Deployment and StatefulSet at once on an empty database, each passing its probes', async () => {
    const workloads = [...objectsOfKind(chart, 'Deployment'), ...objectsOfKind(chart, 'StatefulSet')];
    expect(workloads.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      ['api', 'attestation', 'failures', 'gateway', 'telemetry', 'updates']
        .map((s) => `Deployment/${RELEASE}-${s}`)
        .concat(`StatefulSet/${RELEASE}-fleet`)
        .sort(),
    );
    expect(await sql(`SELECT 1 FROM pg_namespace WHERE nspname = 'attestation'`)).toEqual([]);
    const began = Date.now();
    // Created together, as the API server takes the whole release and the kubelet starts every pod on its own.
    const [pods, fleetPod] = await Promise.all([
      Promise.all(
        objectsOfKind(chart, 'Deployment').map(
          async (object) => [object.metadata.name.slice(RELEASE.length + 1), await start(object)] as const,
        ),
      ),
      start(workload('StatefulSet', 'fleet')),
    ]);
    for (const [name, pod] of pods) deployments.set(name, pod);
    fleet = fleetPod;
    fleetStartedAt = Date.now();
    // The services migrate at start-up under one advisory lock each: four at once on an empty database.
    await Promise.all([...deployments.values(), fleet].map((pod) => pod.waitReady()));
    figures['servicesReadyMs'] = Date.now() - began;
  }, 240_000);

  it("then runs the post-install migrations Job: each service's migrations are all applied, and its four containers exit 0", async () => {
    const jobs = objectsOfKind(chart, 'Job');
    expect(jobs.map((j) => [j.metadata.name, j.metadata.annotations?.['helm.sh/hook']])).toEqual([
      [`${RELEASE}-migrate-1`, 'post-install,pre-upgrade'],
    ]);
    const began = Date.now();
    await (await start(jobs[0]!)).waitSucceeded(120_000);
    figures['migrateJobMs'] = Date.now() - began;
    for (const service of ['attestation', 'failures', 'telemetry', 'updates']) {
      const files = (await readdir(join(ROOT, 'services', service, 'src/migrations'))).filter((f) => /^\d+-.+\.ts$/.test(f));
      const applied = await sql<{ n: string }>(`SELECT count(*) AS n FROM ${service}.migrations`);
      expect(Number(applied[0]!.n), service).toBe(files.length);
    }
  }, 180_000);

  it('first run: every emulated device is attested and its telemetry stored, with no step a user would not guess', async () => {
    const began = fleetStartedAt;
    await waitFor(
      async () =>
        Number(
          (await sql<{ n: string }>(`SELECT count(*) AS n FROM attestation.devices WHERE tenant_id = $1 AND last_pass`, [demoTenant]))[0]!
            .n,
        ) === devices,
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
    // The outside view: the demo tenant's own token (kept on the fleet pod's volume, as NOTES.txt says) lists them
    // through the API front, as the attestation service's own port does.
    const listed = await callApi(API, await demoToken(), 'GET', '/v1/devices');
    expect(listed.status).toBe(200);
    expect(listed.body).toHaveLength(devices);
    const direct = await callApi('http://127.0.0.1:8083', await demoToken(), 'GET', '/v1/devices');
    expect((listed.body as Array<{ id: string }>).map((d) => d.id).sort()).toEqual(
      (direct.body as Array<{ id: string }>).map((d) => d.id).sort(),
    );
    const document = (await (await fetch(`${API}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    for (const path of ['/v1/devices', '/v1/telemetry/stats', '/v1/failure-buckets', '/v1/deployments'])
      expect(Object.keys(document.paths)).toContain(path);
  }, 240_000);

  it('rolls an OS image, uploaded through the API front, out to the containerised fleet', async () => {
    const token = await demoToken();
    const updates = async (method: string, path: string, body?: unknown): Promise<any> => {
      const answer = await callApi(API, token, method, path, body);
      expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.body)}`).toBeLessThan(300);
      return answer.body;
    };
    const ids = (await sql<{ id: string }>(`SELECT id FROM attestation.devices WHERE tenant_id = $1`, [demoTenant])).map((d) => d.id);
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

  it("runs the chart's helm test pod: every service and the API front answer /readyz", async () => {
    const tests = chart.objects.filter(isHelmTest);
    expect(tests.map((t) => t.metadata.name)).toEqual([`${RELEASE}-test-ready`]);
    await (await start(tests[0]!)).waitSucceeded(60_000);
  }, 90_000);

  it('keeps every acknowledged reading, exactly once, when the gateway and telemetry containers are killed and restarted', async () => {
    const telemetry = deployments.get('telemetry')!;
    const gateway = deployments.get('gateway')!;
    // Mid-run: readings are flowing.
    const flowing = await storedReadings();
    await waitFor(async () => (await storedReadings()) > flowing, { timeoutMs: 30_000, describe: 'readings being stored' });
    await telemetry.kill('telemetry');
    await gateway.kill('gateway');
    const killedAt = new Date();
    const mark = await storedReadings();
    // As the kubelet would: the same containers, started again (it waits a back-off first; nothing here needs one).
    await Promise.all([gateway.restart('gateway'), telemetry.restart('telemetry')]);
    await waitFor(
      async () =>
        Number(
          (await sql<{ n: string }>(`SELECT count(DISTINCT device_id) AS n FROM telemetry.readings WHERE received_at > $1`, [killedAt]))[0]!
            .n,
        ) === devices,
      { timeoutMs: 90_000, intervalMs: 1_000, describe: 'readings from every device stored again after the restarts' },
    );
    expect(await storedReadings()).toBeGreaterThan(mark);
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
    // Each value of each reading once: a batch redelivered after the kill, or a reading re-sent because its
    // acknowledgement was lost, is stored under the same (device, metric, seq) and adds no row. (The primary key
    // includes the reading's timestamp, so this also catches a re-sent reading stamped again.)
    expect(readings.rows).toBe(readings.values);
    expect(readings.distinct).toBeLessThanOrEqual(report.published);
    figures['fleet'] = report;
    figures['acknowledged'] = report.acknowledged;
    figures['readingsStored'] = readings.distinct;

    expect(fleetExit).toEqual([expect.objectContaining({ exitCode: 0 })]);
    expect(fleetExit[0]!.ms).toBeLessThan(fleetExit[0]!.graceMs);
  }, 240_000);

  it('stops every container on SIGTERM with exit 0 within its terminationGracePeriodSeconds', async () => {
    const results = (await Promise.all([...deployments.values()].map((pod) => pod.terminate()))).flat();
    figures['terminations'] = [...((figures['terminations'] as unknown[] | undefined) ?? []), ...results];
    for (const result of results) {
      expect(result, result.label).toMatchObject({ exitCode: 0 });
      expect(result.ms, result.label).toBeLessThan(result.graceMs);
    }
  }, 120_000);
});
