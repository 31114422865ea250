/** Gives back a slot; calling it again does nothing. */
export type ReleaseSlot = () => void;

/**
 * At most `max` image transfers at once; the rest wait their turn, first
 * come first served. A rollout wave asks for the same image from hundreds
 * of devices at the same moment: without a bound, each holds a socket's
 * buffers and the server's attention while it crawls, and a wave's last
 * device finishes no sooner than if they had taken turns. Devices on slow
 * links hold a slot for long, so the limit is a setting, not a constant.
 */
export class StreamSlots {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`stream slots must be a positive integer, not ${max}`);
  }

  get inUse(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Resolves with a release function once a slot is free. If `signal`
   * aborts first (the device went away while waiting), its place in the
   * queue is given up and the promise rejects.
   */
  acquire(signal?: AbortSignal): Promise<ReleaseSlot> {
    if (this.active < this.max && this.waiting.length === 0) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    return new Promise<ReleaseSlot>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', giveUp);
        this.active++;
        resolve(this.releaser());
      };
      const giveUp = () => {
        const at = this.waiting.indexOf(grant);
        if (at >= 0) this.waiting.splice(at, 1);
        const reason: unknown = signal!.reason;
        reject(reason instanceof Error ? reason : new Error('gave up waiting for an image stream'));
      };
      if (signal?.aborted === true) return giveUp();
      signal?.addEventListener('abort', giveUp, { once: true });
      this.waiting.push(grant);
    });
  }

  private releaser(): ReleaseSlot {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.waiting.shift()?.();
    };
  }
}
