import type { Clock } from './tokens.js';
import { DeadlineQueue, type QueueRefusal, type QueuedWork } from './deadline-queue.js';
import { PerKeyLimiter, type PerKeyRefusal } from './per-key-limiter.js';

export interface KeyedAdmissionLimits {
  /** Per key: one piece of work at a time, at this sustained rate, with this burst. */
  readonly ratePerSecond: number;
  readonly burst: number;
  /** Work running at once, and waiting for a turn, over every key. */
  readonly maxActive: number;
  readonly maxWaiting: number;
}

/** Why work was not run: the key's own limits, or the shared queue's. */
export type AdmissionRefusal = PerKeyRefusal | QueueRefusal;

export type AdmissionOutcome<T> =
  | { readonly kind: 'done'; readonly value: T }
  | { readonly kind: 'failed'; readonly error: unknown }
  | { readonly kind: 'refused'; readonly reason: AdmissionRefusal };

/** Refusals since the last summary, by reason, and a few of the keys refused. */
export interface RefusalSummary {
  readonly refused: Readonly<Record<string, number>>;
  readonly keys: readonly string[];
}

/** Keys named in one summary at most. */
const SUMMARY_KEYS = 10;

/**
 * Admission for work on behalf of many clients, each known by a key (a device id): per key one piece of work at a
 * time and a rate, whatever connection it came on; over all keys a bounded queue whose waiting work is dropped at
 * its deadline. Refusals are tallied for one summary line at a time (a flood would otherwise be a flood of log
 * lines). The gateway and the attestation service both hold one, so the limits hold where the work enters and
 * where it lands.
 */
export class KeyedAdmission {
  private readonly perKey: PerKeyLimiter;
  private readonly queue: DeadlineQueue;
  private readonly refusedSinceSummary = new Map<string, number>();
  private readonly refusedKeys = new Set<string>();

  constructor(
    limits: KeyedAdmissionLimits,
    private readonly clock: Clock,
  ) {
    this.perKey = new PerKeyLimiter({ ratePerSecond: limits.ratePerSecond, burst: limits.burst });
    this.queue = new DeadlineQueue(limits.maxActive, limits.maxWaiting, clock);
  }

  get active(): number {
    return this.queue.active;
  }

  get waiting(): number {
    return this.queue.queued;
  }

  /** Runs `work` for `key` within the limits; never rejects. The key's slot is given back whatever happens. */
  async run<T>(key: string, work: () => Promise<T>, options: QueuedWork): Promise<AdmissionOutcome<T>> {
    const admission = this.perKey.tryAcquire(key, this.clock.now());
    if (!admission.ok) return { kind: 'refused', reason: admission.reason };
    try {
      return await this.queue.run(work, options);
    } finally {
      admission.release();
    }
  }

  /** Tallies a refusal under `label` for the next summary. */
  noteRefusal(label: string, key: string): void {
    this.refusedSinceSummary.set(label, (this.refusedSinceSummary.get(label) ?? 0) + 1);
    if (this.refusedKeys.size < SUMMARY_KEYS) this.refusedKeys.add(key);
  }

  /**
   * The refusals since the last call (undefined if none), then starts a new tally; and forgets the limits of keys
   * quiet long enough to have nothing left to remember.
   */
  takeSummary(): RefusalSummary | undefined {
    this.perKey.prune(this.clock.now());
    if (this.refusedSinceSummary.size === 0) return undefined;
    const summary = { refused: Object.fromEntries(this.refusedSinceSummary), keys: [...this.refusedKeys] };
    this.refusedSinceSummary.clear();
    this.refusedKeys.clear();
    return summary;
  }
}
