import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const ROOT = new URL('../../../', import.meta.url).pathname;
export const CHART = join(ROOT, 'charts/rampart');

/** The parts of Kubernetes objects the container tier reads (what the chart renders; anything else is refused by the runner). */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly annotations?: Record<string, string> };
  readonly spec?: any;
  readonly data?: Record<string, string>;
  readonly stringData?: Record<string, string>;
}

export interface RenderedChart {
  readonly namespace: string;
  readonly objects: readonly K8sObject[];
}

export function helmBinary(): string {
  return join(execFileSync(join(ROOT, 'scripts/ensure-helm.sh'), { encoding: 'utf8' }).trim(), 'helm');
}

/**
 * `helm template` of the chart, as `helm install` would apply it. YAML 1.1,
 * as Kubernetes reads it: `defaultMode: 0440` is octal there.
 */
export function renderChart(options: {
  release: string;
  namespace: string;
  valuesFiles: readonly string[];
  sets: readonly string[];
}): RenderedChart {
  const answer = spawnSync(
    helmBinary(),
    [
      'template',
      options.release,
      CHART,
      '--namespace',
      options.namespace,
      ...options.valuesFiles.flatMap((f) => ['-f', f]),
      ...options.sets.flatMap((s) => ['--set', s]),
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  if (answer.status !== 0) throw new Error(`helm template: ${answer.stderr}`);
  const objects = parseAllDocuments(answer.stdout, { version: '1.1' })
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
  return { namespace: options.namespace, objects };
}

export function objectsOfKind(chart: RenderedChart, kind: string): K8sObject[] {
  return chart.objects.filter((o) => o.kind === kind);
}

export function isHelmTest(o: K8sObject): boolean {
  return (o.metadata.annotations?.['helm.sh/hook'] ?? '').split(',').includes('test');
}
