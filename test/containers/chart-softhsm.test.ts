import { execFile } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, freePort, queryDatabase, type TestDatabase } from '@rampart/testing';
import { containerTierSkipped, removeContainers } from './support/docker.js';
import { StandaloneNats } from './support/nats-server.js';
import { planPod, type PlanContext } from './support/pod-plan.js';
import { RunningPod } from './support/pod-runner.js';
import { CHART, ROOT, renderChart, type K8sObject, type RenderedChart } from './support/rendered-chart.js';

const exec = promisify(execFile);
const IMAGE = process.env['IMAGE'] ?? 'rampart:dev';
const RELEASE = 'rampart';
const CSR = /-----BEGIN CERTIFICATE REQUEST-----[\s\S]+?-----END CERTIFICATE REQUEST-----/;

/**
 * The chart's SoftHSM2 development mode (keys.softhsm), its init containers
 * run for real from the rendered spec (support/pod-plan.ts): each signing
 * service's token is made on its claim's volume under the generated PIN,
 * attestation's init makes the platform issuing CA's key in the token and
 * prints its request, which the offline side signs; a restarted pod finds
 * the same token and the same key; with the ceremony's Secret created, the
 * attestation container itself starts on the token, as rendered, and makes
 * a new tenant's CA key there.
 */
describe.skipIf(await containerTierSkipped())("the chart's SoftHSM2 development token, initialised as rendered", () => {
  const prefix = `rampart-hsm-${randomBytes(3).toString('hex')}`;
  let workDir = '';
  let chart: RenderedChart;
  let context: PlanContext;
  let nats: StandaloneNats;
  let db: TestDatabase;
  const workload = (name: string): K8sObject =>
    chart.objects.find((o) => o.kind === 'Deployment' && o.metadata.name === `${RELEASE}-${name}`)!;
  const cli = (args: string[]) => exec(process.execPath, [join(ROOT, 'apps/cli/dist/main.js'), ...args], { encoding: 'utf8' });
  /**
   * A workload's Deployment on free host ports (the pod shares the host's network, where a fixed 8083 or 8443 may
   * be taken): HTTP_PORT and the probes' port, and DEVICE_PORT when it has one. A later env entry wins, as in Kubernetes.
   */
  const onFreePorts = async (name: string): Promise<{ deployment: K8sObject; port: number }> => {
    const deployment = structuredClone(workload(name));
    const container = deployment.spec.template.spec.containers[0];
    const port = await freePort();
    container.env.push({ name: 'HTTP_PORT', value: String(port) });
    container.ports.find((p: { name: string }) => p.name === 'http').containerPort = port;
    if (container.env.some((e: { name: string }) => e.name === 'DEVICE_PORT')) {
      const devicePort = await freePort();
      container.env.push({ name: 'DEVICE_PORT', value: String(devicePort) });
      for (const p of container.ports) if (p.name !== 'http') p.containerPort = devicePort;
    }
    return { deployment, port };
  };
  /**
   * The ceremony, once for the file whichever test needs it first: attestation's init container makes the token
   * and the issuing CA's key and prints its request; the offline side (the host's CLI) makes a root in an encrypted
   * file, signs the request and the root's CRL; keys.platformCa.existingSecret is made from those files, as
   * `kubectl create secret generic … --from-file` would.
   */
  let ceremonyRun: Promise<{ readonly logs: string; readonly csrPem: string; readonly secret: K8sObject }> | undefined;
  const ceremony = () => (ceremonyRun ??= runCeremony());
  const runCeremony = async () => {
    const pod = await initOnly('attestation', `${prefix}-first`);
    const logs = await pod.logs('softhsm-token');
    const csrPem = CSR.exec(logs)?.[0];
    if (csrPem === undefined) throw new Error(`no certificate request in the init container's output:\n${logs}`);
    await writeFile(join(workDir, 'issuing.csr'), `${csrPem}\n`);
    await writeFile(join(workDir, 'passphrase'), 'the offline passphrase of this test\n', { mode: 0o600 });
    const passphrase = ['--passphrase-file', join(workDir, 'passphrase')];
    await cli(['ceremony', 'root', 'create', '--out', join(workDir, 'root'), '--common-name', 'Chart Test Root', ...passphrase]);
    const csr = ['--csr', join(workDir, 'issuing.csr'), '--out', join(workDir, 'issuing.pem')];
    await cli(['ceremony', 'issuing', 'sign', '--root', join(workDir, 'root'), ...csr, ...passphrase]);
    await cli(['ceremony', 'root', 'crl', '--root', join(workDir, 'root'), '--out', join(workDir, 'root.crl'), ...passphrase]);
    const secret: K8sObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'rampart-platform-ca' },
      stringData: {
        'root.pem': await readFile(join(workDir, 'root', 'root.pem'), 'utf8'),
        'issuing.pem': await readFile(join(workDir, 'issuing.pem'), 'utf8'),
        'root.crl': await readFile(join(workDir, 'root.crl'), 'utf8'),
      },
    };
    return { logs, csrPem, secret };
  };
  /** The pod's init containers alone: the services themselves are the ca and tuf work's to run in pkcs11 mode. */
  const initOnly = async (name: string, runPrefix: string): Promise<RunningPod> => {
    const plan = planPod({ ...context, prefix: runPrefix }, workload(name));
    expect(plan.initContainers.map((c) => c.label)).toEqual([`Deployment ${RELEASE}-${name}, container softhsm-token`]);
    return RunningPod.start({ ...plan, containers: [] });
  };

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'rampart-chart-softhsm-'));
    nats = await StandaloneNats.start();
    db = await createTestDatabase();
    const colon = IMAGE.lastIndexOf(':');
    chart = renderChart({
      release: RELEASE,
      namespace: 'rampart',
      valuesFiles: [join(CHART, 'ci/containers-values.yaml'), join(CHART, 'ci/softhsm-values.yaml')],
      sets: [
        `nats.externalUrl=${nats.url}`,
        `image.repository=${IMAGE.slice(0, colon)}`,
        `image.tag=${IMAGE.slice(colon + 1)}`,
        'image.pullPolicy=Never',
      ],
    });
    // keys.platformCa's Secret does not exist yet: it is what the ceremony below makes (its volume is optional).
    // What a user bringing their own PostgreSQL creates beforehand (postgresql.external.existingSecret).
    const database: K8sObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'rampart-database' }, stringData: { url: db.url } };
    context = { chart, extraObjects: [database], prefix, workDir };
  });

  afterAll(async () => {
    await removeContainers(prefix).catch(() => undefined);
    // The token's files are the pod user's (1000): removed through the image as that user.
    await exec('docker', ['run', '--rm', '--user', '0:0', '-v', `${workDir}:/w`, '--entrypoint', 'rm', IMAGE, '-rf', '/w/claims']).catch(
      () => undefined,
    );
    await nats?.stop();
    await db?.drop();
    if (workDir !== '') await rm(workDir, { recursive: true, force: true });
  }, 60_000);

  it("makes attestation's token and issuing CA key, prints the request the offline root signs, and finds both again after a restart", async () => {
    const { csrPem } = await ceremony();
    const claim = join(workDir, 'claims', `${RELEASE}-attestation-softhsm`);
    expect((await readdir(join(claim, 'tokens'))).length).toBe(1);
    expect(
      (await exec('openssl', ['req', '-in', join(workDir, 'issuing.csr'), '-verify', '-noout'], { encoding: 'utf8' })).stderr,
    ).toContain('verify OK');
    // The offline side (the host's CLI) signed it with a root in an encrypted file.
    const issuing = new X509Certificate(await readFile(join(workDir, 'issuing.pem')));
    expect(issuing.checkIssued(new X509Certificate(await readFile(join(workDir, 'root', 'root.pem'))))).toBe(true);

    // The pod again (a restart, a new node): the same token on the claim, the key already there, the same request.
    await removeContainers(`${prefix}-first`);
    const again = await initOnly('attestation', `${prefix}-again`);
    const second = await again.logs('softhsm-token');
    expect(second).toContain('softhsm-token: token rampart-dev is there');
    expect(CSR.exec(second)?.[0]).toBe(csrPem);
    expect((await readdir(join(claim, 'tokens'))).length).toBe(1);
  }, 180_000);

  it("starts attestation on the token once the ceremony's Secret exists: ready, serving the root's CRL, signing tenant CAs there", async () => {
    const { secret } = await ceremony();
    const { deployment, port } = await onFreePorts('attestation');
    const pod = await RunningPod.start(
      planPod({ ...context, extraObjects: [...context.extraObjects, secret], prefix: `${prefix}-serving` }, deployment),
    );
    await pod.waitReady();
    const served = await fetch(`http://127.0.0.1:${port}/v1/platform/root-crl`);
    expect(served.status).toBe(200);
    // A tenant made now gets its CA key in the token: its row holds the label and no key bytes.
    const secrets = chart.objects.find((o) => o.kind === 'Secret' && o.metadata.name === `${RELEASE}-secrets`)!;
    const admin = Buffer.from(secrets.data!['PLATFORM_ADMIN_TOKEN']!, 'base64').toString('utf8');
    const created = await fetch(`http://127.0.0.1:${port}/v1/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'hsm-chart', name: 'Keys in the chart token' }),
    });
    expect(created.status, await created.clone().text()).toBeLessThan(300);
    const rows = await queryDatabase<{ key_label: string | null; sealed: boolean }>(
      db.url,
      `SELECT key_label, encrypted_key IS NOT NULL AS sealed FROM attestation.tenant_cas WHERE tenant_id = 'hsm-chart'`,
    );
    expect(rows).toEqual([{ key_label: expect.stringMatching(/^rampart\/hsm-chart\/ca-/), sealed: false }]);
    const stopped = await pod.terminate();
    expect(stopped).toEqual([expect.objectContaining({ exitCode: 0 })]);
  }, 240_000);

  it("makes updates' own token on its own claim, and no request; the service starts on it as rendered", async () => {
    const pod = await initOnly('updates', `${prefix}-updates`);
    const logs = await pod.logs('softhsm-token');
    expect(logs).not.toMatch(CSR);
    expect((await readdir(join(workDir, 'claims', `${RELEASE}-updates-softhsm`, 'tokens'))).length).toBe(1);
    const { secret } = await ceremony();
    const { deployment } = await onFreePorts('updates');
    // No key-encryption key for TUF keys: with keys in the token, updates is not given one, and starts without it.
    expect(deployment.spec.template.spec.containers[0].env.map((e: { name: string }) => e.name)).not.toContain(
      'UPDATES_KEY_ENCRYPTION_KEY',
    );
    const serving = await RunningPod.start(
      planPod({ ...context, extraObjects: [...context.extraObjects, secret], prefix: `${prefix}-updates-serving` }, deployment),
    );
    await serving.waitReady();
    const stopped = await serving.terminate();
    expect(stopped).toEqual([expect.objectContaining({ exitCode: 0 })]);
  }, 240_000);
});
