import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { containerState, docker, logTail } from './docker.js';
import type { ContainerPlan, HttpProbe, PodPlan } from './pod-plan.js';

/** How long an init container may run before the pod is called failed. */
const INIT_TIMEOUT_MS = 120_000;

/** A container that failed to become ready or to finish, with what it last said. */
export class WorkloadFailure extends Error {}

async function materialize(plan: ContainerPlan): Promise<void> {
  for (const volume of plan.tmpfsVolumes) {
    const size = volume.sizeBytes === undefined ? '' : `,size=${volume.sizeBytes}`;
    // The same name again answers the existing volume: the pod's containers share it.
    await docker([
      'volume',
      'create',
      '--driver',
      'local',
      '--opt',
      'type=tmpfs',
      '--opt',
      'device=tmpfs',
      '--opt',
      `o=mode=1777${size}`,
      volume.name,
    ]);
  }
  for (const directory of plan.directories) {
    await mkdir(directory.hostPath, { recursive: true });
    // What the kubelet does for fsGroup: the group owns the volume, can write it, and new files inherit the group.
    await chown(directory.hostPath, 0, directory.gid);
    await chmod(directory.hostPath, 0o2775);
  }
  for (const file of [...plan.files, plan.envFile]) {
    await mkdir(dirname(file.hostPath), { recursive: true });
    // A secret volume's directory is traversable, as the kubelet makes it; its files carry the modes (0440 here).
    // The env file's directory is the host's alone: only docker, run by root, reads it.
    await chmod(dirname(file.hostPath), file === plan.envFile ? 0o700 : 0o755);
    await writeFile(file.hostPath, file.content, { mode: 0o600 });
    await chown(file.hostPath, 0, file.gid);
    await chmod(file.hostPath, file.mode);
  }
}

/**
 * One pod of a rendered workload running as Docker containers (see
 * pod-plan.ts for how a spec becomes `docker run`).
 */
export class RunningPod {
  private constructor(readonly plan: PodPlan) {}

  static async start(plan: PodPlan): Promise<RunningPod> {
    // Init containers first, one at a time, each to exit 0 before the next (and the pod's containers) start.
    for (const init of plan.initContainers) {
      await materialize(init);
      await docker([
        'run',
        '--detach',
        '--name',
        init.dockerName,
        ...init.dockerOptions,
        '--entrypoint',
        init.entrypoint,
        init.image,
        ...init.args,
      ]);
      const state = await waitExited(init, INIT_TIMEOUT_MS);
      if (state.exitCode !== 0) {
        throw new WorkloadFailure(`${init.label} exited ${state.exitCode}:\n${await logTail(init.dockerName)}`);
      }
    }
    for (const container of plan.containers) {
      await materialize(container);
      await docker([
        'run',
        '--detach',
        '--name',
        container.dockerName,
        ...container.dockerOptions,
        '--entrypoint',
        container.entrypoint,
        container.image,
        ...container.args,
      ]);
    }
    return new RunningPod(plan);
  }

  container(name: string): ContainerPlan {
    const found = [...this.plan.initContainers, ...this.plan.containers].find((c) => c.dockerName.endsWith(`-${name}`));
    if (found === undefined) throw new Error(`${this.plan.podName} has no container ${name}`);
    return found;
  }

  /**
   * Polls every container's readiness probe at its path until it answers
   * 200, within the startup budget; a container that exits first, or never
   * passes, fails naming the workload and container, with its last logs.
   */
  async waitReady(): Promise<void> {
    await Promise.all(this.plan.containers.map((c) => waitContainerReady(c)));
  }

  /**
   * A Job's or a test Pod's containers run to completion: each must exit 0.
   * With restartPolicy OnFailure a failed container is started again, up
   * to backoffLimit times, as the Job controller would.
   */
  async waitSucceeded(timeoutMs: number): Promise<void> {
    const backoffLimit: number = this.plan.workload.spec?.backoffLimit ?? 6;
    await Promise.all(
      this.plan.containers.map(async (container) => {
        for (let attempt = 0; ; attempt++) {
          const state = await waitExited(container, timeoutMs);
          if (state.exitCode === 0) return;
          if (this.plan.restartPolicy !== 'OnFailure' || attempt >= backoffLimit) {
            throw new WorkloadFailure(
              `${container.label} exited ${state.exitCode}${state.oomKilled ? ' (out of memory)' : ''}:\n${await logTail(container.dockerName)}`,
            );
          }
          await docker(['start', container.dockerName]);
        }
      }),
    );
  }

  /** SIGKILL, as a crashed node or an OOM kill. */
  async kill(name: string): Promise<void> {
    await docker(['kill', '--signal', 'KILL', this.container(name).dockerName]);
  }

  /** The same container started again (what the kubelet does under restartPolicy Always). */
  async restart(name: string): Promise<void> {
    const container = this.container(name);
    await docker(['start', container.dockerName]);
    await waitContainerReady(container);
  }

  /**
   * SIGTERM to every container, as Kubernetes deletes a pod: each must exit
   * 0 within terminationGracePeriodSeconds (Docker sends SIGKILL after it,
   * which shows as exit 137). Answers how long each took.
   */
  async terminate(): Promise<Array<{ label: string; exitCode: number; ms: number; graceMs: number }>> {
    const grace = this.plan.terminationGracePeriodSeconds;
    return Promise.all(
      this.plan.containers.map(async (container) => {
        const started = Date.now();
        await docker(['stop', '--time', String(grace), container.dockerName], { timeoutMs: (grace + 30) * 1000 });
        const ms = Date.now() - started;
        return { label: container.label, exitCode: (await containerState(container.dockerName)).exitCode, ms, graceMs: grace * 1000 };
      }),
    );
  }

  async logs(name: string, lines = 200): Promise<string> {
    return logTail(this.container(name).dockerName, lines);
  }
}

/**
 * The kubelet's order: the startup probe until it passes (within its
 * budget), then the readiness probe (within its own), then one liveness
 * probe; a container that exits first, or a probe that never passes, fails
 * naming the workload and container, with its last logs.
 */
async function waitContainerReady(container: ContainerPlan): Promise<void> {
  const { startup, readiness, liveness } = container.probes;
  if (startup !== undefined) await probeUntilPassing(container, 'startup', startup);
  if (readiness !== undefined) await probeUntilPassing(container, 'readiness', readiness);
  if (liveness !== undefined) {
    const status = await probeOnce(liveness);
    if (status !== 200) throw new WorkloadFailure(`${container.label}: liveness probe ${liveness.url} failed once ready (${status})`);
  }
}

async function probeOnce(probe: HttpProbe): Promise<number | string> {
  return fetch(probe.url, { signal: AbortSignal.timeout(probe.timeoutMs) }).then(
    (r) => r.status,
    (e: Error) => e.message,
  );
}

async function probeUntilPassing(container: ContainerPlan, kind: string, probe: HttpProbe): Promise<void> {
  const deadline = Date.now() + probe.budgetMs;
  let last: number | string = 'no answer';
  while (Date.now() < deadline) {
    const state = await containerState(container.dockerName);
    if (!state.running) {
      throw new WorkloadFailure(`${container.label} exited ${state.exitCode} before it was ready:\n${await logTail(container.dockerName)}`);
    }
    last = await probeOnce(probe);
    if (last === 200) return;
    await sleep(500);
  }
  throw new WorkloadFailure(
    `${container.label}: ${kind} probe ${probe.url} did not pass within ${probe.budgetMs / 1000} s (last: ${last}):\n${await logTail(container.dockerName)}`,
  );
}

async function waitExited(container: ContainerPlan, timeoutMs: number): Promise<{ exitCode: number; oomKilled: boolean }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const state = await containerState(container.dockerName);
    if (!state.running) return state;
    await sleep(500);
  }
  throw new WorkloadFailure(`${container.label} did not finish within ${timeoutMs / 1000} s:\n${await logTail(container.dockerName)}`);
}
