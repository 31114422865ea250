/** A message taken from an outbox to publish; its id settles it. */
export interface OutboxMessage {
  readonly id: number;
  readonly payload: string;
}

/**
 * Messages a device must deliver at least once (QoS 1): kept while the
 * device is offline, up to `capacity` (then the oldest goes), and removed
 * only when the broker acknowledges them. Each carries its own sequence
 * number, so a resend is recognised upstream. Holds no connection: the
 * device's machine takes what to publish and settles it on the PUBACK.
 */
export class Outbox {
  private readonly entries: Array<{ readonly id: number; readonly payload: string; inFlight: boolean }> = [];
  private nextId = 0;

  constructor(private readonly capacity: number) {}

  /** Keeps `payload`; true when the oldest message was dropped to make room. */
  add(payload: string): boolean {
    let dropped = false;
    if (this.entries.length >= this.capacity) {
      this.entries.shift();
      dropped = true;
    }
    this.entries.push({ id: this.nextId++, payload, inFlight: false });
    return dropped;
  }

  /** Whatever is not in flight yet, now marked in flight. */
  takeUnsent(): OutboxMessage[] {
    const taken: OutboxMessage[] = [];
    for (const entry of this.entries) {
      if (entry.inFlight) continue;
      entry.inFlight = true;
      taken.push({ id: entry.id, payload: entry.payload });
    }
    return taken;
  }

  /** The publish of message `id` ended; true when it was acknowledged and so removed. */
  settle(id: number, acknowledged: boolean): boolean {
    const at = this.entries.findIndex((entry) => entry.id === id);
    const entry = this.entries[at];
    if (entry === undefined) return false;
    if (!acknowledged) {
      entry.inFlight = false;
      return false;
    }
    this.entries.splice(at, 1);
    return true;
  }

  /** The connection went away: nothing is in flight any more, everything waits for the next one. */
  connectionLost(): void {
    for (const entry of this.entries) entry.inFlight = false;
  }

  get size(): number {
    return this.entries.length;
  }
}
