/**
 * The message bus every service talks through. Two implementations share
 * these semantics: `NatsBus` (NATS core request/reply with queue groups, and
 * JetStream for durable streams) and `InProcessBus` (the embedded mode).
 *
 * Subjects and stream names given here are *unprefixed*; each bus applies its
 * own prefix so several installations or test runs can share a NATS server.
 */
export interface Closable {
  close(): Promise<void>;
}

/** Answers one request; `headers` are the request's (W3C trace context among them). */
export type RawHandler = (data: Uint8Array, headers: Readonly<Record<string, string>>) => Promise<Uint8Array>;

export interface StreamOptions {
  readonly name: string;
  readonly subjects: readonly string[];
  /** Messages older than this are discarded by the stream. */
  readonly maxAgeMs: number;
  /** Window in which a repeated message id is dropped as a duplicate. */
  readonly duplicateWindowMs: number;
}

/** A stream as a service that does not own it found it (see `MessageBus.joinStream`). */
export interface JoinedStream {
  /** No one had made it yet: this call created it with the settings it was given. */
  readonly created: boolean;
  readonly maxAgeMs: number;
  readonly duplicateWindowMs: number;
}

export interface PublishOptions {
  /** Idempotency key: a second publish with the same id inside the window is dropped. */
  readonly msgId: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface DurableMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  /** Stream sequence: unique and increasing within a stream. */
  readonly streamSequence: number;
  readonly deliveryCount: number;
  ack(): void;
  /** Ask for redelivery, after `delayMs` if given. */
  nak(delayMs?: number): void;
  /** Never deliver this message again (poison message). */
  term(): void;
}

export interface DurableConsumerOptions {
  readonly stream: string;
  /** Replicas that give the same durable name share one position in the stream. */
  readonly durable: string;
  readonly filterSubject: string;
  /** The most unacknowledged messages the server hands this durable at once. */
  readonly maxAckPending: number;
  /** Redeliver a message not acknowledged in this time. */
  readonly ackWaitMs: number;
}

export interface MessageBus {
  /** Sends a request; resolves with the first reply. Rejects with `BusError`. */
  request(subject: string, data: Uint8Array, timeoutMs: number, headers?: Readonly<Record<string, string>>): Promise<Uint8Array>;
  /** Answers requests on `subject`; replicas with the same `queue` share the load. */
  serve(subject: string, queue: string, handler: RawHandler): Closable;
  /** For the stream's owner: creates it, or brings an existing one to these settings. */
  ensureStream(options: StreamOptions): Promise<void>;
  /**
   * For anyone else: the stream as its owner left it, never changed; created with `options` only if it does not
   * exist yet. Rejects with `BusError` if the stream does not capture every subject in `options`.
   */
  joinStream(options: StreamOptions): Promise<JoinedStream>;
  /** Resolves once the stream has stored the message (or dropped it as a duplicate). */
  publishDurable(subject: string, data: Uint8Array, options: PublishOptions): Promise<{ duplicate: boolean }>;
  consumeDurable(options: DurableConsumerOptions, onMessage: (message: DurableMessage) => void): Promise<Closable>;
  /** Fire-and-forget event to every subscriber (every replica, no queue group): for signals like revocations. */
  broadcast(subject: string, data: Uint8Array): Promise<void>;
  /** Receives every event on `subject`; resolves once the subscription is in place. */
  listen(subject: string, handler: (data: Uint8Array) => void): Promise<Closable>;
  /** Stops taking new work, lets in-flight work finish, then disconnects. */
  drain(): Promise<void>;
  readonly kind: 'nats' | 'in-process';
}
