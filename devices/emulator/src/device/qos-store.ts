/** One message kept until the broker acknowledges it. */
export interface QosEntry<P> {
  /** Its sequence number (a reading's) or outbox id: keys only grow, so the store stays in key order. */
  readonly key: number;
  readonly payload: P;
  /** Published on the current connection and waiting for its PUBACK. */
  readonly inFlight: boolean;
  /** When it was last published (0: never). */
  readonly sentAt: number;
}

type Chunk<P> = ReadonlyArray<QosEntry<P>>;

/**
 * Entries per chunk. A change copies one chunk and the list of chunks, so a
 * full store of 10 000 readings costs a few hundred copied slots per event
 * instead of 10 000: cheap enough to keep the device's state a value.
 */
const CHUNK = 64;

/**
 * The QoS 1 store as an immutable value: messages a device must deliver at
 * least once, kept in key order until acknowledged, bounded (when full the
 * oldest goes). Every operation returns a new store and leaves this one as
 * it was, so a device state that holds it can be kept, compared and
 * replayed. Keys must be added in increasing order.
 */
export class QosStore<P> {
  private constructor(
    readonly capacity: number,
    private readonly chunks: ReadonlyArray<Chunk<P>>,
    readonly size: number,
  ) {}

  static empty<P>(capacity: number): QosStore<P> {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`a QoS store needs a capacity of at least 1, got ${capacity}`);
    return new QosStore<P>(capacity, [], 0);
  }

  /** Keeps `payload` under `key`; `dropped` when the oldest message went to make room. */
  add(key: number, payload: P): { readonly store: QosStore<P>; readonly dropped: boolean } {
    let chunks = this.chunks;
    let size = this.size;
    const dropped = size >= this.capacity;
    if (dropped) {
      const [first = [], ...rest] = chunks;
      chunks = first.length > 1 ? [first.slice(1), ...rest] : rest;
      size--;
    }
    const entry: QosEntry<P> = { key, payload, inFlight: false, sentAt: 0 };
    const last = chunks[chunks.length - 1];
    chunks = last === undefined || last.length >= CHUNK ? [...chunks, [entry]] : [...chunks.slice(0, -1), [...last, entry]];
    return { store: new QosStore(this.capacity, chunks, size + 1), dropped };
  }

  get(key: number): QosEntry<P> | undefined {
    const at = this.locate(key);
    return at === undefined ? undefined : this.chunks[at.chunk]?.[at.index];
  }

  /** Marks `key` in flight since `now` (unchanged when it is unknown). */
  sent(key: number, now: number): QosStore<P> {
    return this.update(key, (entry) => ({ ...entry, inFlight: true, sentAt: now }));
  }

  /** Its publish failed: `key` waits to be sent again. */
  failed(key: number): QosStore<P> {
    return this.update(key, (entry) => (entry.inFlight ? { ...entry, inFlight: false } : entry));
  }

  /** Acknowledged: `key` is removed (`entry` undefined when it was no longer kept). */
  remove(key: number): { readonly store: QosStore<P>; readonly entry: QosEntry<P> | undefined } {
    const at = this.locate(key);
    const chunk = at === undefined ? undefined : this.chunks[at.chunk];
    const entry = at === undefined ? undefined : chunk?.[at.index];
    if (at === undefined || chunk === undefined || entry === undefined) return { store: this, entry: undefined };
    const rest = chunk.filter((_, i) => i !== at.index);
    const chunks =
      rest.length === 0 ? this.chunks.filter((_, i) => i !== at.chunk) : this.chunks.map((c, i) => (i === at.chunk ? rest : c));
    return { store: new QosStore(this.capacity, chunks, this.size - 1), entry };
  }

  /** The connection went away: nothing is in flight any more (chunks with nothing in flight are shared). */
  idle(): QosStore<P> {
    const chunks = this.chunks.map((chunk) =>
      chunk.some((entry) => entry.inFlight) ? chunk.map((entry) => (entry.inFlight ? { ...entry, inFlight: false } : entry)) : chunk,
    );
    return new QosStore(this.capacity, chunks, this.size);
  }

  /** Every entry, oldest first. */
  *entries(): IterableIterator<QosEntry<P>> {
    for (const chunk of this.chunks) yield* chunk;
  }

  private update(key: number, change: (entry: QosEntry<P>) => QosEntry<P>): QosStore<P> {
    const at = this.locate(key);
    const chunk = at === undefined ? undefined : this.chunks[at.chunk];
    const entry = at === undefined ? undefined : chunk?.[at.index];
    if (at === undefined || chunk === undefined || entry === undefined) return this;
    const changed = change(entry);
    if (changed === entry) return this;
    const copy = chunk.map((e, i) => (i === at.index ? changed : e));
    return new QosStore(
      this.capacity,
      this.chunks.map((c, i) => (i === at.chunk ? copy : c)),
      this.size,
    );
  }

  /** Where `key` sits: binary search over the chunks (by their first key), then within the chunk. */
  private locate(key: number): { readonly chunk: number; readonly index: number } | undefined {
    let low = 0;
    let high = this.chunks.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      const first = this.chunks[middle]?.[0];
      if (first !== undefined && first.key <= key) low = middle;
      else high = middle - 1;
    }
    const chunk = this.chunks[low];
    if (chunk === undefined) return undefined;
    let from = 0;
    let to = chunk.length - 1;
    while (from <= to) {
      const middle = (from + to) >> 1;
      const at = chunk[middle];
      if (at === undefined) return undefined;
      if (at.key === key) return { chunk: low, index: middle };
      if (at.key < key) from = middle + 1;
      else to = middle - 1;
    }
    return undefined;
  }
}
