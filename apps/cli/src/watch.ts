import { setTimeout as sleep } from 'node:timers/promises';
import { ApiHttpError, ApiUnreachableError } from '@rampart/api-client';
import { describeError } from './errors.js';
import { safeLine } from './output/safe-text.js';

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

/**
 * How a watch ends, kubectl rollout status-like: 0 the deployment completed; 1 it ended any other way (aborted,
 * rolled back, superseded); 2 the watch itself failed (API gone, refused, or --timeout reached) and says nothing
 * about the deployment, so a script can tell "the rollout failed" from "we could not see".
 */
export const WATCH_EXIT = { completed: 0, ended: 1, couldNotWatch: 2 } as const;

/** Polls in a row that may fail for a passing reason (a restart, a proxy's 503) before the watch gives up. */
export const DEFAULT_WATCH_RETRIES = 3;

/** Where a deployment's watch ends. */
export type Outcome = { readonly done: false } | { readonly done: true; readonly code: number; readonly message: string };

export function outcomeOf(status: DeploymentStatus): Outcome {
  const { state, reason, id } = status.deployment;
  const why = reason === null ? '' : `: ${reason}`;
  switch (state) {
    case 'completed':
      return { done: true, code: WATCH_EXIT.completed, message: `deployment ${id} completed` };
    case 'aborted':
    case 'rolled-back':
    case 'superseded':
      return { done: true, code: WATCH_EXIT.ended, message: `deployment ${id} ${state}${why}` };
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

/** A poll failure that may pass: the API unreachable, or a gateway/overload answer. A 4xx will not pass by waiting. */
export function isTransient(error: unknown): boolean {
  if (error instanceof ApiUnreachableError) return true;
  return error instanceof ApiHttpError && [429, 502, 503, 504].includes(error.status);
}

export interface WatchOptions {
  readonly intervalMs: number;
  /** A terminal: one line redrawn in place; otherwise one line per change (for logs and pipes). */
  readonly tty: boolean;
  /** Where progress goes: stderr when stdout carries -o json/yaml, so stdout stays parseable. */
  readonly write: (text: string) => void;
  /** Give up (exit 2) once this long has passed without the deployment ending; none: wait for ever. */
  readonly timeoutMs?: number;
  /** Transient poll failures in a row tolerated, each after one interval. */
  readonly retries?: number;
  readonly signal?: AbortSignal;
  readonly now?: () => number;
}

export interface WatchResult<S extends DeploymentStatus = DeploymentStatus> {
  readonly code: number;
  /** The last status seen (none if the first poll already failed). */
  readonly last?: S;
}

/**
 * Polls until the deployment ends, the watch times out, or the API fails beyond the retries. Every line is made
 * safe to print (states and reasons are the API's text). A paused deployment is said once, then watched on: it may
 * be resumed, and only an end state ends the watch.
 */
export async function watchDeployment<S extends DeploymentStatus>(next: () => Promise<S>, options: WatchOptions): Promise<WatchResult<S>> {
  const now = options.now ?? Date.now;
  const deadline = options.timeoutMs === undefined ? Infinity : now() + options.timeoutMs;
  const retries = options.retries ?? DEFAULT_WATCH_RETRIES;
  const endLine = (): string => (options.tty ? '\n' : '');
  let last = '';
  let latest: S | undefined;
  let failures = 0;
  let pausedSaid = false;
  for (;;) {
    let status: S | undefined;
    try {
      status = await next();
      failures = 0;
    } catch (error) {
      failures += 1;
      if (!isTransient(error) || failures > retries) {
        const tries = failures > 1 ? ` (${failures} tries)` : '';
        options.write(`${endLine()}could not watch the deployment${tries}: ${safeLine(describeError(error))}\n`);
        return { code: WATCH_EXIT.couldNotWatch, ...(latest === undefined ? {} : { last: latest }) };
      }
    }
    if (status !== undefined) {
      latest = status;
      const line = safeLine(statusLine(status));
      if (options.tty) options.write(`\r\x1b[2K${line}`);
      else if (line !== last) options.write(`${line}\n`);
      last = line;
      const outcome = outcomeOf(status);
      if (outcome.done) {
        options.write(`${endLine()}${safeLine(outcome.message)}\n`);
        return { code: outcome.code, last: status };
      }
      const paused = status.deployment.state === 'paused';
      if (paused && !pausedSaid) {
        const { id, reason } = status.deployment;
        const why = reason === null ? '' : `: ${reason}`;
        options.write(`${endLine()}${safeLine(`deployment ${id} paused${why}; watching on until it is resumed or ends`)}\n`);
      }
      pausedSaid = paused;
    }
    const left = deadline - now();
    if (left <= 0) {
      const where = latest === undefined ? '' : `; it is still ${safeLine(latest.deployment.state)}`;
      options.write(`${endLine()}gave up watching after ${Math.round((options.timeoutMs ?? 0) / 1000)} s (--timeout)${where}\n`);
      return { code: WATCH_EXIT.couldNotWatch, ...(latest === undefined ? {} : { last: latest }) };
    }
    await sleep(Math.min(options.intervalMs, left), undefined, options.signal === undefined ? {} : { signal: options.signal });
  }
}
