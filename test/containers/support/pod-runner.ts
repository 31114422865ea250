import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { containerState, docker, logTail } from './docker.js';
import type { ContainerPlan, PodPlan } from './pod-plan.js';

/** A container that failed to become ready or to finish, with what it last said. */
export class WorkloadFailure extends Error {}

async function materialize(plan: ContainerPlan): Promise<void> {
  for (const directory of plan.directories) {
    await mkdir(directory.hostPath, { recursive: true });
    // What the kubelet does for fsGroup: the group owns the volume, can write it, and new files inherit the group.
    await chown(directory.hostPath, 0, directory.gid);
    await chmod(directory.hostPath, 0o2775);
  }
  for (const file of plan.files) {
    await mkdir(dirname(file.hostPath), { recursive: true });
    await writeFile(file.hostPath, file.content);
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
    const found = this.plan.containers.find((c) => c.dockerName.endsWith(`-${name}`));
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
          await sleep(1_000);
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

async function waitContainerReady(container: ContainerPlan): Promise<void> {
  if (container.readiness === undefined) return;
  const url = `http://127.0.0.1:${container.readiness.port}${container.readiness.path}`;
  const deadline = Date.now() + container.startupBudgetMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    const state = await containerState(container.dockerName);
    if (!state.running) {
      throw new WorkloadFailure(`${container.label} exited ${state.exitCode} before it was ready:\n${await logTail(container.dockerName)}`);
    }
    const status = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.status,
      (e: Error) => e.message,
    );
    if (status === 200) return;
    last = String(status);
    await sleep(500);
  }
  throw new WorkloadFailure(
    `${container.label}: readiness probe ${url} did not pass within ${container.startupBudgetMs / 1000} s (last: ${last}):\n${await logTail(container.dockerName)}`,
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
