import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { K8sObject, RenderedChart } from './rendered-chart.js';

/**
 * How one pod of a rendered workload runs as Docker containers on one
 * machine, exactly as rendered: command and args; env with secretKeyRef and
 * configMapKeyRef resolved from the rendered (or user-supplied) Secrets and
 * ConfigMaps; secret volumes as read-only files owned by root and the pod's
 * fsGroup with their mode; emptyDir as tmpfs; a claim as a directory owned
 * by fsGroup; user, group, read-only root, capabilities, no new privileges;
 * memory and CPU limits. Containers share the host's network (every port
 * distinct) and every Service name resolves to 127.0.0.1.
 *
 * Anything the plan cannot honour (a field it does not know, a reference
 * that does not resolve) is an error naming the workload and container:
 * a workload the tier cannot run as rendered is a finding, not a skip.
 */
export interface ContainerPlan {
  /** `Deployment rampart-gateway, container gateway`: how errors name it. */
  readonly label: string;
  readonly dockerName: string;
  readonly image: string;
  readonly entrypoint: string;
  readonly args: readonly string[];
  readonly dockerOptions: readonly string[];
  /** Files to write before start (secret volumes), each as it must appear on the host. */
  readonly files: readonly PlannedFile[];
  /** Directories to create before start (claims), owned by root and fsGroup, group-writable. */
  readonly directories: readonly PlannedDirectory[];
  /** The environment, written to a 0600 file for `--env-file`: secret values never reach a command line. */
  readonly envFile: PlannedFile;
  /** tmpfs-backed Docker volumes (emptyDirs): one per pod and volume, shared by its containers, kept across restarts. */
  readonly tmpfsVolumes: readonly PlannedTmpfs[];
  /** The probes as Kubernetes runs them: startup first (within its budget), then readiness; liveness once ready. */
  readonly probes: { readonly startup?: HttpProbe; readonly readiness?: HttpProbe; readonly liveness?: HttpProbe };
}

export interface HttpProbe {
  readonly url: string;
  readonly timeoutMs: number;
  /** initialDelaySeconds + periodSeconds × failureThreshold: how long it may fail before Kubernetes gives up. */
  readonly budgetMs: number;
}

export interface PlannedTmpfs {
  readonly name: string;
  readonly sizeBytes?: number;
}

export interface PlannedFile {
  readonly hostPath: string;
  readonly content: Buffer;
  readonly mode: number;
  readonly gid: number;
}

export interface PlannedDirectory {
  readonly hostPath: string;
  readonly gid: number;
}

export interface PodPlan {
  readonly workload: K8sObject;
  readonly podName: string;
  /** Run one after the other before `containers`, each to exit 0 (the kubelet's order). */
  readonly initContainers: readonly ContainerPlan[];
  readonly containers: readonly ContainerPlan[];
  readonly terminationGracePeriodSeconds: number;
  readonly restartPolicy: 'Always' | 'OnFailure' | 'Never';
}

export interface PlanContext {
  readonly chart: RenderedChart;
  /** Secrets a user creates beforehand (`existingSecret` values), as Secret objects. */
  readonly extraObjects: readonly K8sObject[];
  /** Prefix of every container name (one run's containers). */
  readonly prefix: string;
  /** Where secret files and claim directories are made. */
  readonly workDir: string;
}

export class PlanError extends Error {}

const KNOWN_CONTAINER_FIELDS = new Set([
  'name',
  'image',
  'imagePullPolicy',
  'command',
  'args',
  'env',
  'ports',
  'securityContext',
  'resources',
  'volumeMounts',
  'startupProbe',
  'livenessProbe',
  'readinessProbe',
]);
const KNOWN_SECURITY_FIELDS = new Set([
  'runAsNonRoot',
  'runAsUser',
  'runAsGroup',
  'fsGroup',
  'seccompProfile',
  'allowPrivilegeEscalation',
  'readOnlyRootFilesystem',
  'capabilities',
]);
const KNOWN_MOUNT_FIELDS = new Set(['name', 'mountPath', 'readOnly']);
const KNOWN_SECRET_VOLUME_FIELDS = new Set(['secretName', 'defaultMode', 'items', 'optional']);
const KNOWN_CLAIM_VOLUME_FIELDS = new Set(['claimName']);
const KNOWN_EMPTY_DIR_FIELDS = new Set(['sizeLimit']);
const KNOWN_POD_FIELDS = new Set([
  'securityContext',
  'automountServiceAccountToken',
  'initContainers',
  'containers',
  'volumes',
  'terminationGracePeriodSeconds',
  'topologySpreadConstraints',
  'restartPolicy',
  'imagePullSecrets',
]);

/** The pod template of a Deployment, StatefulSet or Job, or a bare Pod's own spec. */
function podSpecOf(workload: K8sObject): IPodSpec | undefined {
  return (workload.kind === 'Pod' ? workload.spec : workload.spec?.template?.spec) as IPodSpec | undefined;
}

/** Kubernetes names a StatefulSet's pods `<name>-<ordinal>`; Deployment and Job pods get a random suffix (not needed here). */
function podNameOf(workload: K8sObject, ordinal: number): string {
  return workload.kind === 'StatefulSet' ? `${workload.metadata.name}-${ordinal}` : workload.metadata.name;
}

export function planPod(context: PlanContext, workload: K8sObject, ordinal = 0): PodPlan {
  const spec = podSpecOf(workload);
  const where = `${workload.kind} ${workload.metadata.name}`;
  if (spec === undefined) throw new PlanError(`${where}: no pod spec`);
  for (const field of Object.keys(spec)) {
    if (!KNOWN_POD_FIELDS.has(field)) throw new PlanError(`${where}: pod field ${field} is not run by the container tier`);
  }
  const podName = podNameOf(workload, ordinal);
  const pod = spec.securityContext ?? {};
  const templates = (workload.spec?.volumeClaimTemplates ?? []) as Array<{ metadata: { name: string } }>;
  const claims = new Set(templates.map((c) => c.metadata.name));
  const plan = (container: IContainer) =>
    planContainer(context, { workload, where, podName, pod, volumes: spec.volumes ?? [], claims, container });
  const initContainers = (spec.initContainers ?? []).map(plan);
  const containers = spec.containers.map(plan);
  return {
    workload,
    podName,
    initContainers,
    containers,
    terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds ?? 30,
    restartPolicy: spec.restartPolicy ?? 'Always',
  };
}

interface ContainerInput {
  readonly workload: K8sObject;
  readonly where: string;
  readonly podName: string;
  readonly pod: IPodSecurityContext;
  readonly volumes: readonly IVolume[];
  readonly claims: ReadonlySet<string>;
  readonly container: IContainer;
}

function planContainer(context: PlanContext, input: ContainerInput): ContainerPlan {
  const { container, pod } = input;
  const label = `${input.where}, container ${container.name}`;
  const fail = (message: string): never => {
    throw new PlanError(`${label}: ${message}`);
  };
  const refuseUnknown = (what: string, object: object | undefined, known: ReadonlySet<string>) => {
    for (const field of Object.keys(object ?? {})) if (!known.has(field)) fail(`${what}${field} is not run by the container tier`);
  };
  refuseUnknown('field ', container, KNOWN_CONTAINER_FIELDS);
  refuseUnknown('pod securityContext.', pod, KNOWN_SECURITY_FIELDS);
  refuseUnknown('securityContext.', container.securityContext, KNOWN_SECURITY_FIELDS);
  const command = [...(container.command ?? []), ...(container.args ?? [])];
  if (command.length === 0) fail('no command (the image default is never what the chart means)');
  const image = container.image ?? fail('no image');
  const dockerName = `${context.prefix}-${input.podName}-${container.name}`;
  const security = { ...pod, ...(container.securityContext ?? {}) } as IPodSecurityContext & NonNullable<IContainer['securityContext']>;
  // The image's HEALTHCHECK is Docker's, not the chart's: Kubernetes ignores it, so does the tier.
  const options: string[] = ['--network', 'host', '--hostname', input.podName, '--no-healthcheck'];
  for (const host of serviceHostNames(context.chart)) options.push('--add-host', `${host}:127.0.0.1`);

  // Identity and privileges.
  const uid = security.runAsUser;
  const gid = security.runAsGroup ?? uid;
  if (security.runAsNonRoot === true && (uid === undefined || uid === 0)) fail('runAsNonRoot without a non-root runAsUser');
  if (uid !== undefined) options.push('--user', `${uid}:${gid ?? uid}`);
  const fsGroup = pod.fsGroup;
  if (fsGroup !== undefined) options.push('--group-add', String(fsGroup));
  if (security.readOnlyRootFilesystem === true) options.push('--read-only');
  if (security.allowPrivilegeEscalation === false) options.push('--security-opt', 'no-new-privileges');
  for (const cap of security.capabilities?.drop ?? []) options.push('--cap-drop', cap);
  for (const cap of security.capabilities?.add ?? []) options.push('--cap-add', cap);
  const seccomp = security.seccompProfile?.type;
  if (seccomp !== undefined && seccomp !== 'RuntimeDefault') fail(`seccompProfile ${seccomp} (only RuntimeDefault, Docker's default)`);

  // Resources: limits are enforced; requests only schedule.
  const limits = container.resources?.limits ?? {};
  if (limits.memory !== undefined) options.push('--memory', String(bytesOf(limits.memory, fail)));
  if (limits.cpu !== undefined) options.push('--cpus', String(coresOf(limits.cpu, fail)));

  // Environment: later entries win, as in Kubernetes; values must be one line for an env file.
  const environment = new Map<string, string>();
  for (const variable of container.env ?? []) {
    const value = envValue(context, variable, fail);
    if (/[\r\n]/.test(value)) fail(`env ${variable.name}: a value over several lines cannot be passed to docker`);
    environment.set(variable.name, value);
  }
  const envFile: PlannedFile = {
    hostPath: `${context.workDir}/env/${dockerName}.env`,
    content: Buffer.from([...environment].map(([k, v]) => `${k}=${v}\n`).join('')),
    mode: 0o600,
    gid: 0,
  };
  options.push('--env-file', envFile.hostPath);

  // Volumes.
  const files: PlannedFile[] = [];
  const directories: PlannedDirectory[] = [];
  const tmpfsVolumes: PlannedTmpfs[] = [];
  for (const mount of container.volumeMounts ?? []) {
    refuseUnknown(`volumeMount ${mount.name}: `, mount, KNOWN_MOUNT_FIELDS);
    const readOnly = mount.readOnly === true ? ':ro' : '';
    if (input.claims.has(mount.name)) {
      const hostPath = `${context.workDir}/claims/${mount.name}-${input.podName}`;
      directories.push({ hostPath, gid: fsGroup ?? 0 });
      options.push('--volume', `${hostPath}:${mount.mountPath}${readOnly}`);
      continue;
    }
    const volume = input.volumes.find((v) => v.name === mount.name) ?? fail(`volume ${mount.name} is not in the pod spec`);
    if (volume.emptyDir !== undefined) {
      refuseUnknown(`emptyDir ${mount.name}: `, volume.emptyDir, KNOWN_EMPTY_DIR_FIELDS);
      // One per pod, shared by its containers and kept across their restarts, as an emptyDir is.
      const name = `${context.prefix}-${input.podName}-${mount.name}`;
      const sizeLimit = volume.emptyDir.sizeLimit;
      tmpfsVolumes.push({ name, ...(sizeLimit === undefined ? {} : { sizeBytes: bytesOf(sizeLimit, fail) }) });
      options.push('--volume', `${name}:${mount.mountPath}${readOnly}`);
    } else if (volume.persistentVolumeClaim !== undefined) {
      refuseUnknown(`persistentVolumeClaim ${mount.name}: `, volume.persistentVolumeClaim, KNOWN_CLAIM_VOLUME_FIELDS);
      const claimName = volume.persistentVolumeClaim.claimName;
      if (findObject(context, 'PersistentVolumeClaim', claimName) === undefined)
        fail(`volume ${mount.name}: no PersistentVolumeClaim ${claimName}`);
      // The claim's volume outlives the pod: one directory per claim, the same for every start of the pod.
      const hostPath = `${context.workDir}/claims/${claimName}`;
      directories.push({ hostPath, gid: fsGroup ?? 0 });
      options.push('--volume', `${hostPath}:${mount.mountPath}${readOnly}`);
    } else if (volume.secret !== undefined) {
      refuseUnknown(`secret volume ${mount.name}: `, volume.secret, KNOWN_SECRET_VOLUME_FIELDS);
      const dir = `${context.workDir}/secrets/${input.podName}/${container.name}/${mount.name}`;
      const secretName = volume.secret.secretName ?? fail(`volume ${mount.name}: a secret volume without secretName`);
      const found = findObject(context, 'Secret', secretName);
      if (found === undefined && volume.secret.optional === true) {
        // An optional Secret that does not exist (yet) is an empty directory, as the kubelet mounts it.
        directories.push({ hostPath: dir, gid: fsGroup ?? 0 });
        options.push('--volume', `${dir}:${mount.mountPath}:ro`);
        continue;
      }
      const secret = found ?? fail(`volume ${mount.name}: no Secret ${secretName}`);
      const data = secretData(secret);
      const items = volume.secret.items ?? Object.keys(data).map((key) => ({ key, path: key, mode: undefined }));
      for (const item of items) {
        const content = data[item.key] ?? fail(`volume ${mount.name}: Secret ${secretName} has no key ${item.key}`);
        files.push({ hostPath: `${dir}/${item.path}`, content, mode: item.mode ?? volume.secret.defaultMode ?? 0o644, gid: fsGroup ?? 0 });
      }
      options.push('--volume', `${dir}:${mount.mountPath}:ro`);
    } else {
      fail(`volume ${mount.name}: only emptyDir, secret, persistentVolumeClaim and claim-template volumes are run by the container tier`);
    }
  }

  const ports = new Map((container.ports ?? []).map((p) => [p.name ?? '', p.containerPort]));
  const httpProbe = (kind: string, probe: IProbe | undefined): HttpProbe | undefined => {
    if (probe === undefined) return undefined;
    const httpGet = probe.httpGet ?? fail(`${kind} probe is not httpGet`);
    const port = typeof httpGet.port === 'number' ? httpGet.port : ports.get(httpGet.port);
    if (port === undefined) fail(`${kind} probe port ${httpGet.port} is not a port of the container`);
    return {
      url: `http://127.0.0.1:${port}${httpGet.path ?? '/'}`,
      timeoutMs: (probe.timeoutSeconds ?? 1) * 1000,
      budgetMs: ((probe.initialDelaySeconds ?? 0) + (probe.periodSeconds ?? 10) * (probe.failureThreshold ?? 3)) * 1000,
    };
  };
  const startup = httpProbe('startup', container.startupProbe);
  const readiness = httpProbe('readiness', container.readinessProbe);
  const liveness = httpProbe('liveness', container.livenessProbe);

  return {
    label,
    dockerName,
    image,
    entrypoint: command[0]!,
    args: command.slice(1),
    dockerOptions: options,
    files,
    directories,
    envFile,
    tmpfsVolumes,
    probes: {
      ...(startup === undefined ? {} : { startup }),
      ...(readiness === undefined ? {} : { readiness }),
      ...(liveness === undefined ? {} : { liveness }),
    },
  };
}

/** Every name a pod could dial a Service by: `svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`. */
function serviceHostNames(chart: RenderedChart): string[] {
  return chart.objects
    .filter((o) => o.kind === 'Service')
    .flatMap((s) => {
      const name = s.metadata.name;
      return [name, `${name}.${chart.namespace}`, `${name}.${chart.namespace}.svc`, `${name}.${chart.namespace}.svc.cluster.local`];
    });
}

function findObject(context: PlanContext, kind: string, name: string): K8sObject | undefined {
  return [...context.extraObjects, ...context.chart.objects].find((o) => o.kind === kind && o.metadata.name === name);
}

function secretData(secret: K8sObject): Record<string, Buffer> {
  const data: Record<string, Buffer> = {};
  for (const [key, value] of Object.entries(secret.data ?? {})) data[key] = Buffer.from(value, 'base64');
  for (const [key, value] of Object.entries(secret.stringData ?? {})) data[key] = Buffer.from(value, 'utf8');
  return data;
}

function envValue(context: PlanContext, variable: IEnvVar, fail: (m: string) => never): string {
  if (variable.value !== undefined) return String(variable.value);
  const from = variable.valueFrom ?? fail(`env ${variable.name}: neither value nor valueFrom`);
  if (from.secretKeyRef !== undefined) {
    const { name, key } = from.secretKeyRef;
    const secret = findObject(context, 'Secret', name ?? '') ?? fail(`env ${variable.name}: no Secret ${name}`);
    const value = secretData(secret)[key] ?? fail(`env ${variable.name}: Secret ${name} has no key ${key}`);
    return value.toString('utf8');
  }
  if (from.configMapKeyRef !== undefined) {
    const { name, key } = from.configMapKeyRef;
    const map = findObject(context, 'ConfigMap', name ?? '') ?? fail(`env ${variable.name}: no ConfigMap ${name}`);
    return map.data?.[key] ?? fail(`env ${variable.name}: ConfigMap ${name} has no key ${key}`);
  }
  return fail(`env ${variable.name}: valueFrom ${Object.keys(from).join(', ')} is not run by the container tier`);
}

const BINARY_SUFFIXES: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  '': 1,
};

/** A Kubernetes quantity of bytes ("512Mi", "1Gi", "1000000"). */
export function bytesOf(quantity: string | number, fail: (m: string) => never): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(quantity));
  if (match === null) return fail(`memory quantity ${quantity}`);
  return Math.round(Number(match[1]) * BINARY_SUFFIXES[match[2] ?? '']!);
}

/** A Kubernetes CPU quantity in cores ("500m", "2"). */
export function coresOf(quantity: string | number, fail: (m: string) => never): number {
  const match = /^(\d+(?:\.\d+)?)(m)?$/.exec(String(quantity));
  if (match === null) return fail(`cpu quantity ${quantity}`);
  return Number(match[1]) / (match[2] === 'm' ? 1000 : 1);
}
