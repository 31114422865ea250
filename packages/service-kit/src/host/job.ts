import { every, type Periodic } from '../periodic.js';

/**
 * A periodic loop of a service (a sweep, a retention pass, a policy check),
 * provided by its Nest module like any other part. The service host starts
 * each job once the HTTP port is open and stops them first on close, in
 * reverse order, so no run begins while the parts it uses are closing.
 */
export interface Job {
  /** Names the job in logs and in a failed start. */
  readonly name: string;
  readonly intervalMs: number;
  /** One run; a run still going when the next is due makes that one skip. */
  run(): Promise<unknown>;
  /** A failed run: logged (or ignored) here; the next run happens anyway. */
  onError(error: unknown): void;
}

/** Starts a job on the `every` timer (which never keeps the process alive). */
export function startJob(job: Job): Periodic {
  return every(
    job.intervalMs,
    () => job.run(),
    (error) => job.onError(error),
  );
}
