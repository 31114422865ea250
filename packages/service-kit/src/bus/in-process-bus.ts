import { streamName, withPrefix } from '@rampart/contracts';
import { BusError } from './bus-error.js';
import type {
  Closable,
  DurableConsumerOptions,
  DurableMessage,
  JoinedStream,
  MessageBus,
  PublishOptions,
  RawHandler,
  StreamOptions,
} from './message-bus.js';
import { subjectMatches } from './subject-match.js';

interface Responder {
  readonly queue: string;
  readonly handler: RawHandler;
}

interface StoredMessage {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly storedAt: number;
}

interface Delivery {
  deliveryCount: number;
  timer: NodeJS.Timeout | undefined;
}

type Listener = (message: DurableMessage) => void;

/**
 * One durable consumer: a position in the stream shared by every listener
 * that registers under the same durable name, like a JetStream pull consumer
 * shared by replicas. Unacknowledged messages are redelivered after
 * `ackWaitMs`; at most `maxAckPending` are outstanding.
 */
class InProcessDurable {
  private nextSeq = 1;
  private readonly pending = new Map<number, Delivery>();
  private readonly redeliver: number[] = [];
  private readonly listeners: Listener[] = [];
  private turn = 0;
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly stream: InProcessStream,
    private readonly options: DurableConsumerOptions,
  ) {}

  addListener(listener: Listener): void {
    this.listeners.push(listener);
    this.schedule();
  }

  removeListener(listener: Listener): void {
    const index = this.listeners.indexOf(listener);
    if (index >= 0) this.listeners.splice(index, 1);
  }

  /** The lowest sequence this durable may still need. */
  floor(): number {
    let floor = this.nextSeq;
    for (const seq of this.pending.keys()) floor = Math.min(floor, seq);
    return floor;
  }

  schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    // Deliver from a fresh stack so a publisher is never re-entered by a consumer.
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.listeners.length > 0 && (this.redeliver.length > 0 || this.pending.size < this.options.maxAckPending)) {
      const seq = this.redeliver.shift() ?? this.takeNext();
      if (seq === undefined) return;
      const stored = this.stream.get(seq);
      if (stored === undefined) {
        this.pending.delete(seq);
        continue;
      }
      this.deliver(stored);
    }
  }

  private takeNext(): number | undefined {
    while (this.nextSeq <= this.stream.lastSeq) {
      const seq = this.nextSeq++;
      const stored = this.stream.get(seq);
      if (stored !== undefined && subjectMatches(this.options.filterSubject, stored.subject)) return seq;
    }
    return undefined;
  }

  private deliver(stored: StoredMessage): void {
    const delivery = this.pending.get(stored.seq) ?? { deliveryCount: 0, timer: undefined };
    delivery.deliveryCount++;
    this.pending.set(stored.seq, delivery);
    let settled = false;
    const settle = (): boolean => {
      if (settled || this.pending.get(stored.seq) !== delivery) return false;
      settled = true;
      clearTimeout(delivery.timer);
      return true;
    };
    const requeue = (delayMs: number): void => {
      delivery.timer = setTimeout(() => {
        if (this.pending.get(stored.seq) !== delivery) return;
        this.redeliver.push(stored.seq);
        this.schedule();
      }, delayMs);
      delivery.timer.unref();
    };
    delivery.timer = setTimeout(() => {
      if (!settle()) return;
      this.redeliver.push(stored.seq);
      this.schedule();
    }, this.options.ackWaitMs);
    delivery.timer.unref();
    const message: DurableMessage = {
      subject: stored.subject,
      data: stored.data,
      headers: stored.headers,
      streamSequence: stored.seq,
      deliveryCount: delivery.deliveryCount,
      ack: () => {
        if (!settle()) return;
        this.pending.delete(stored.seq);
        this.stream.collect();
        this.schedule();
      },
      nak: (delayMs = 0) => {
        if (!settle()) return;
        requeue(delayMs);
      },
      term: () => {
        if (!settle()) return;
        this.pending.delete(stored.seq);
        this.schedule();
      },
    };
    const listener = this.listeners[this.turn++ % this.listeners.length];
    listener?.(message);
  }

  close(): void {
    this.closed = true;
    for (const delivery of this.pending.values()) clearTimeout(delivery.timer);
  }
}

class InProcessStream {
  private readonly messages = new Map<number, StoredMessage>();
  private readonly recentIds = new Map<string, number>();
  readonly durables = new Map<string, InProcessDurable>();
  lastSeq = 0;

  constructor(private settings: StreamOptions) {}

  get options(): StreamOptions {
    return this.settings;
  }

  /** The owner's new limits apply from the next expiry pass. */
  reconfigure(settings: StreamOptions): void {
    this.settings = settings;
  }

  captures(subject: string): boolean {
    return this.options.subjects.some((filter) => subjectMatches(filter, subject));
  }

  append(subject: string, data: Uint8Array, options: PublishOptions): { duplicate: boolean } {
    const now = Date.now();
    this.expire(now);
    if (this.recentIds.has(options.msgId)) return { duplicate: true };
    const seq = ++this.lastSeq;
    this.recentIds.set(options.msgId, now);
    this.messages.set(seq, { seq, subject, data, headers: { ...options.headers }, storedAt: now });
    for (const durable of this.durables.values()) durable.schedule();
    return { duplicate: false };
  }

  get(seq: number): StoredMessage | undefined {
    return this.messages.get(seq);
  }

  /** Drops messages every durable has acknowledged, so memory stays bounded. */
  collect(): void {
    if (this.durables.size === 0) return;
    let floor = Infinity;
    for (const durable of this.durables.values()) floor = Math.min(floor, durable.floor());
    for (const seq of this.messages.keys()) {
      if (seq >= floor) break;
      this.messages.delete(seq);
    }
  }

  private expire(now: number): void {
    for (const [id, at] of this.recentIds) {
      if (now - at < this.options.duplicateWindowMs) break;
      this.recentIds.delete(id);
    }
    for (const [seq, message] of this.messages) {
      if (now - message.storedAt < this.options.maxAgeMs) break;
      this.messages.delete(seq);
    }
  }
}

/**
 * The embedded mode's bus: same subjects and semantics as `NatsBus`
 * (queue-group request/reply, streams with duplicate windows, durable
 * consumers with ack/nak/redelivery), held in this process's memory. What it
 * stores is lost when the process exits; use NATS for durability across
 * restarts.
 */
export class InProcessBus implements MessageBus {
  readonly kind = 'in-process' as const;
  private readonly responders = new Map<string, Responder[]>();
  private readonly streams = new Map<string, InProcessStream>();
  private readonly rotation = new Map<string, number>();
  private draining = false;

  constructor(private readonly prefix = '') {}

  async request(subject: string, data: Uint8Array, timeoutMs: number, headers: Readonly<Record<string, string>> = {}): Promise<Uint8Array> {
    const full = withPrefix(this.prefix, subject);
    const candidates = this.pickResponders(full);
    if (candidates.length === 0) throw BusError.noResponders(subject);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(BusError.timeout(subject, timeoutMs)), timeoutMs);
    });
    try {
      // Copy the request as NATS would: a handler can never mutate the caller's buffer.
      return await Promise.race([Promise.any(candidates.map((r) => r.handler(data.slice(), { ...headers }))), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** One responder per queue group, round-robin inside each group. */
  private pickResponders(subject: string): Responder[] {
    const groups = new Map<string, Responder[]>();
    for (const [filter, responders] of this.responders) {
      if (!subjectMatches(filter, subject)) continue;
      for (const responder of responders) {
        const group = groups.get(responder.queue) ?? [];
        group.push(responder);
        groups.set(responder.queue, group);
      }
    }
    const picked: Responder[] = [];
    for (const [queue, group] of groups) {
      const key = `${subject} ${queue}`;
      const turn = this.rotation.get(key) ?? 0;
      this.rotation.set(key, turn + 1);
      const responder = group[turn % group.length];
      if (responder !== undefined) picked.push(responder);
    }
    return picked;
  }

  serve(subject: string, queue: string, handler: RawHandler): Closable {
    const full = withPrefix(this.prefix, subject);
    const responder: Responder = { queue, handler };
    const list = this.responders.get(full) ?? [];
    list.push(responder);
    this.responders.set(full, list);
    return {
      close: () => {
        const current = this.responders.get(full) ?? [];
        this.responders.set(
          full,
          current.filter((r) => r !== responder),
        );
        return Promise.resolve();
      },
    };
  }

  ensureStream(options: StreamOptions): Promise<void> {
    const name = streamName(this.prefix, options.name);
    const subjects = options.subjects.map((s) => withPrefix(this.prefix, s));
    const existing = this.streams.get(name);
    if (existing === undefined) this.streams.set(name, new InProcessStream({ ...options, name, subjects }));
    else existing.reconfigure({ ...options, name, subjects });
    return Promise.resolve();
  }

  joinStream(options: StreamOptions): Promise<JoinedStream> {
    const name = streamName(this.prefix, options.name);
    const subjects = options.subjects.map((s) => withPrefix(this.prefix, s));
    let stream = this.streams.get(name);
    const created = stream === undefined;
    if (stream === undefined) {
      stream = new InProcessStream({ ...options, name, subjects });
      this.streams.set(name, stream);
    }
    const missing = subjects.filter((s) => !stream.options.subjects.includes(s));
    if (missing.length > 0) return Promise.reject(new BusError('UNAVAILABLE', `stream ${name} does not capture ${missing.join(', ')}`));
    return Promise.resolve({ created, maxAgeMs: stream.options.maxAgeMs, duplicateWindowMs: stream.options.duplicateWindowMs });
  }

  publishDurable(subject: string, data: Uint8Array, options: PublishOptions): Promise<{ duplicate: boolean }> {
    if (this.draining) return Promise.reject(new BusError('UNAVAILABLE', 'bus is draining'));
    const full = withPrefix(this.prefix, subject);
    for (const stream of this.streams.values()) {
      if (stream.captures(full)) return Promise.resolve(stream.append(full, data.slice(), options));
    }
    return Promise.reject(BusError.noResponders(`stream for ${subject}`));
  }

  consumeDurable(options: DurableConsumerOptions, onMessage: (message: DurableMessage) => void): Promise<Closable> {
    const stream = this.streams.get(streamName(this.prefix, options.stream));
    if (stream === undefined) return Promise.reject(new BusError('NOT_FOUND', `stream ${options.stream} does not exist`));
    let durable = stream.durables.get(options.durable);
    if (durable === undefined) {
      durable = new InProcessDurable(stream, { ...options, filterSubject: withPrefix(this.prefix, options.filterSubject) });
      stream.durables.set(options.durable, durable);
    }
    const owner = durable;
    owner.addListener(onMessage);
    return Promise.resolve({
      close: () => {
        owner.removeListener(onMessage);
        return Promise.resolve();
      },
    });
  }

  private readonly listeners = new Map<string, Set<(data: Uint8Array) => void>>();

  broadcast(subject: string, data: Uint8Array): Promise<void> {
    const full = withPrefix(this.prefix, subject);
    for (const [filter, handlers] of this.listeners) {
      if (!subjectMatches(filter, full)) continue;
      // Delivered from a fresh stack, as a network would.
      for (const handler of handlers) setImmediate(() => handler(data.slice()));
    }
    return Promise.resolve();
  }

  listen(subject: string, handler: (data: Uint8Array) => void): Promise<Closable> {
    const full = withPrefix(this.prefix, subject);
    const set = this.listeners.get(full) ?? new Set();
    set.add(handler);
    this.listeners.set(full, set);
    return Promise.resolve({
      close: () => {
        set.delete(handler);
        return Promise.resolve();
      },
    });
  }

  drain(): Promise<void> {
    this.draining = true;
    this.listeners.clear();
    this.responders.clear();
    for (const stream of this.streams.values()) for (const durable of stream.durables.values()) durable.close();
    return Promise.resolve();
  }
}
