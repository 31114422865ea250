interface PendingReading {
  readonly payload: Buffer;
  sentAt: number;
  inFlight: boolean;
}

/**
 * The QoS 1 store for telemetry: every reading is kept, by sequence number,
 * until its PUBACK arrives, and resent after a reconnect (the sequence
 * number makes a resend idempotent upstream). Bounded: when full, the
 * oldest reading goes.
 */
export class PendingReadings {
  private readonly entries = new Map<number, PendingReading>();

  constructor(private readonly capacity: number) {}

  /** Keeps reading `seq`; true when the oldest reading was dropped to make room. */
  add(seq: number, payload: Buffer): boolean {
    let dropped = false;
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
      dropped = true;
    }
    this.entries.set(seq, { payload, sentAt: 0, inFlight: false });
    return dropped;
  }

  /** The payload to publish for `seq`, marked in flight since `now`; undefined if unknown or already in flight. */
  take(seq: number, now: number): Buffer | undefined {
    const entry = this.entries.get(seq);
    if (entry === undefined || entry.inFlight) return undefined;
    entry.inFlight = true;
    entry.sentAt = now;
    return entry.payload;
  }

  /** The broker acknowledged `seq`: removed; returns when it was sent (undefined if it was no longer pending). */
  acknowledged(seq: number): number | undefined {
    const entry = this.entries.get(seq);
    if (entry === undefined) return undefined;
    this.entries.delete(seq);
    return entry.sentAt;
  }

  /** The publish of `seq` failed: it waits to be sent again. */
  failed(seq: number): void {
    const entry = this.entries.get(seq);
    if (entry !== undefined) entry.inFlight = false;
  }

  /** The connection went away: nothing is in flight any more. */
  connectionLost(): void {
    for (const entry of this.entries.values()) entry.inFlight = false;
  }

  /** Pending sequence numbers, oldest first. */
  sequenceNumbers(): number[] {
    return [...this.entries.keys()];
  }

  get size(): number {
    return this.entries.size;
  }
}
