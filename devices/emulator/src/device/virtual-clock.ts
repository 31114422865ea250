import type { Clock, TimerHandle } from './ports.js';

interface VirtualTimer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/**
 * Virtual time for devices and fleets in tests: timers fire only when the
 * test advances the clock, in due order, with pending promise callbacks
 * run between them — so a day of device life takes milliseconds and every
 * run is the same.
 */
export class VirtualClock implements Clock {
  private time: number;
  private nextId = 1;
  private timers: VirtualTimer[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.time = start;
  }

  readonly now = (): number => this.time;

  /** Its handles are the timers' numbers under the opaque `TimerHandle` type. */
  readonly setTimer = (fn: () => void, ms: number): TimerHandle => {
    const timer = { id: this.nextId++, at: this.time + Math.max(0, ms), fn };
    this.timers.push(timer);
    return timer.id as unknown as TimerHandle;
  };

  readonly clearTimer = (handle: TimerHandle | undefined): void => {
    if (handle === undefined) return;
    const id = handle as unknown as number;
    this.timers = this.timers.filter((t) => t.id !== id);
  };

  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const until = this.time + ms;
    await settle();
    for (;;) {
      let next: VirtualTimer | undefined;
      for (const t of this.timers)
        if (t.at <= until && (next === undefined || t.at < next.at || (t.at === next.at && t.id < next.id))) next = t;
      if (next === undefined) break;
      const due = next;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = Math.max(this.time, due.at);
      due.fn();
      await settle();
    }
    this.time = until;
  }
}

/** Lets promise callbacks (and what they schedule) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
