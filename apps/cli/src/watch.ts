import { setTimeout as sleep } from 'node:timers/promises';

export interface DeploymentStatus {
  readonly deployment: {
    readonly id: string;
    readonly state: string;
    readonly currentWave: number;
    readonly waves: number;
    readonly reason: string | null;
  };
  readonly counts: Readonly<Record<string, number>>;
}

/** Where a deployment's watch ends, kubectl rollout status-like: 0 when it completed, 1 when it ended any other way. */
export type Outcome = { readonly done: false } | { readonly done: true; readonly code: number; readonly message: string };

export function outcomeOf(status: DeploymentStatus): Outcome {
  const { state, reason, id } = status.deployment;
  const why = reason === null ? '' : `: ${reason}`;
  switch (state) {
    case 'completed':
      return { done: true, code: 0, message: `deployment ${id} completed` };
    case 'aborted':
    case 'rolled-back':
    case 'superseded':
      return { done: true, code: 1, message: `deployment ${id} ${state}${why}` };
    default:
      return { done: false }; // active, or paused (resumable): keep watching
  }
}

/** One line that says where a rollout is. */
export function statusLine(status: DeploymentStatus): string {
  const c = status.counts;
  const n = (key: string): number => c[key] ?? 0;
  const d = status.deployment;
  return [
    `${d.state}`,
    `wave ${Math.min(d.currentWave + 1, d.waves)}/${d.waves}`,
    `installed ${n('installed')}/${n('members')}`,
    `failed ${n('failed') + n('timed-out')}`,
    `pending ${n('pending') + n('notified') + n('deferred')}`,
  ].join('  ');
}

export interface WatchOptions {
  readonly intervalMs: number;
  /** A terminal: one line redrawn in place; otherwise one line per change (for logs and pipes). */
  readonly tty: boolean;
  readonly write: (text: string) => void;
  readonly signal?: AbortSignal;
}

/** Polls until the deployment ends; the exit code says how it ended. */
export async function watchDeployment(next: () => Promise<DeploymentStatus>, options: WatchOptions): Promise<number> {
  let last = '';
  for (;;) {
    const status = await next();
    const line = statusLine(status);
    if (options.tty) options.write(`\r\x1b[2K${line}`);
    else if (line !== last) options.write(`${line}\n`);
    last = line;
    const outcome = outcomeOf(status);
    if (outcome.done) {
      options.write(`${options.tty ? '\n' : ''}${outcome.message}\n`);
      return outcome.code;
    }
    await sleep(options.intervalMs, undefined, options.signal === undefined ? {} : { signal: options.signal });
  }
}
