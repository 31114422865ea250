import { QosStore } from './qos-store.js';

/** A message taken from an outbox to publish; its id settles it. */
export interface OutboxMessage {
  readonly id: number;
  readonly payload: string;
}

/**
 * Messages a device must deliver at least once (QoS 1), as an immutable
 * value: kept while the device is offline, up to `capacity` (then the
 * oldest goes), and removed only when the broker acknowledges them. Each
 * carries its own id, so a resend is recognised upstream. Every operation
 * returns a new outbox.
 */
export class Outbox {
  private constructor(
    private readonly store: QosStore<string>,
    private readonly nextId: number,
  ) {}

  static empty(capacity: number): Outbox {
    return new Outbox(QosStore.empty(capacity), 0);
  }

  /** Keeps `payload`; `dropped` when the oldest message went to make room. */
  add(payload: string): { readonly outbox: Outbox; readonly dropped: boolean } {
    const { store, dropped } = this.store.add(this.nextId, payload);
    return { outbox: new Outbox(store, this.nextId + 1), dropped };
  }

  /** Whatever is not in flight yet, and the outbox with it marked in flight. */
  takeUnsent(): { readonly outbox: Outbox; readonly taken: readonly OutboxMessage[] } {
    const taken: OutboxMessage[] = [];
    let store = this.store;
    for (const entry of this.store.entries()) {
      if (entry.inFlight) continue;
      taken.push({ id: entry.key, payload: entry.payload });
      store = store.sent(entry.key, 0);
    }
    return { outbox: taken.length === 0 ? this : new Outbox(store, this.nextId), taken };
  }

  /** The publish of message `id` ended; `acknowledged` when the broker took it and so it was removed. */
  settle(id: number, ok: boolean): { readonly outbox: Outbox; readonly acknowledged: boolean } {
    if (!ok) return { outbox: new Outbox(this.store.failed(id), this.nextId), acknowledged: false };
    const { store, entry } = this.store.remove(id);
    return { outbox: entry === undefined ? this : new Outbox(store, this.nextId), acknowledged: entry !== undefined };
  }

  /** The connection went away: nothing is in flight any more, everything waits for the next one. */
  connectionLost(): Outbox {
    return new Outbox(this.store.idle(), this.nextId);
  }

  get size(): number {
    return this.store.size;
  }
}
