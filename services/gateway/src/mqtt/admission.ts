/**
 * Global admission control for device publishes: at most `maxInFlight`
 * messages are being bridged at once, and at most `maxWaiting` wait for a
 * slot. A waiting publish stalls its client's read loop, so TCP slows the
 * sender; past `maxWaiting` the caller sheds the message instead. This is
 * what keeps a flood from growing queues (Aedes 1.2's mqemitter queue is
 * unbounded and can overflow the stack).
 */
export class Admission {
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly maxInFlight: number,
    readonly maxWaiting: number,
  ) {}

  get active(): number {
    return this.inFlight;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Takes a slot now if one is free. */
  tryAcquire(): boolean {
    if (this.inFlight >= this.maxInFlight) return false;
    this.inFlight++;
    return true;
  }

  /** Resolves with true once a slot is held, or false at once if the wait queue is full. */
  acquire(): Promise<boolean> {
    if (this.tryAcquire()) return Promise.resolve(true);
    if (this.waiting.length >= this.maxWaiting) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.waiting.push(() => resolve(true));
    });
  }

  release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) {
      next();
      return;
    }
    this.inFlight = Math.max(0, this.inFlight - 1);
  }
}
