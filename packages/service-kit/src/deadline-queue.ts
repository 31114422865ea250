import type { Clock } from './tokens.js';

/** Why queued work was not run: no room to wait, its deadline passed first, or nobody wants its answer any more. */
export type QueueRefusal = 'overloaded' | 'expired' | 'cancelled';

export type QueueOutcome<T> =
  | { readonly kind: 'done'; readonly value: T }
  | { readonly kind: 'refused'; readonly reason: QueueRefusal }
  | { readonly kind: 'failed'; readonly error: unknown };

export interface QueuedWork {
  /** Epoch milliseconds after which the work is worthless (its requester has given up). */
  readonly deadline: number;
  /** Asked just before the work starts; false drops it (the device it was for has gone). */
  readonly wanted?: () => boolean;
}

interface Waiter {
  readonly start: () => void;
  readonly refuse: (reason: QueueRefusal) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * At most `maxActive` pieces of work at once and `maxWaiting` waiting, each
 * with a deadline: work still waiting when its deadline passes is dropped,
 * not run late for a requester that has already given up, so a backlog can
 * never outlive the load that made it. The outcome is always resolved, never
 * rejected: work that throws is reported as `failed`, and its slot is given
 * back whatever happened.
 */
export class DeadlineQueue {
  private running = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    readonly maxActive: number,
    readonly maxWaiting: number,
    private readonly clock: Clock,
  ) {}

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  run<T>(work: () => Promise<T>, options: QueuedWork): Promise<QueueOutcome<T>> {
    const wait = options.deadline - this.clock.now();
    if (wait <= 0) return Promise.resolve({ kind: 'refused', reason: 'expired' });
    if (this.running < this.maxActive) return this.start(work);
    if (this.waiting.length >= this.maxWaiting) return Promise.resolve({ kind: 'refused', reason: 'overloaded' });
    return new Promise((resolve) => {
      const waiter: Waiter = {
        start: () => {
          clearTimeout(waiter.timer);
          if (options.wanted !== undefined && !options.wanted()) {
            resolve({ kind: 'refused', reason: 'cancelled' });
            this.next();
            return;
          }
          if (options.deadline <= this.clock.now()) {
            resolve({ kind: 'refused', reason: 'expired' });
            this.next();
            return;
          }
          resolve(this.start(work));
        },
        refuse: (reason) => resolve({ kind: 'refused', reason }),
        timer: setTimeout(() => {
          const index = this.waiting.indexOf(waiter);
          if (index >= 0) this.waiting.splice(index, 1);
          waiter.refuse('expired');
        }, wait),
      };
      waiter.timer.unref();
      this.waiting.push(waiter);
    });
  }

  private async start<T>(work: () => Promise<T>): Promise<QueueOutcome<T>> {
    this.running++;
    try {
      return { kind: 'done', value: await work() };
    } catch (error) {
      return { kind: 'failed', error };
    } finally {
      this.running--;
      this.next();
    }
  }

  /** Hands the free slot to the oldest waiter. */
  private next(): void {
    if (this.running >= this.maxActive) return;
    this.waiting.shift()?.start();
  }
}
