import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { connect, headers as natsHeaders, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { ErrorCode, streamName, withPrefix } from '@rampart/contracts';
import { BusError } from './bus-error.js';
import { classifyNatsError } from './nats-errors.js';
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

const NANOS_PER_MS = 1_000_000;

export interface NatsBusOptions {
  readonly url: string;
  readonly prefix: string;
  readonly name: string;
  /** JetStream copies of each stream this bus creates (default 1). */
  readonly streamReplicas?: number;
  readonly onError: (error: unknown) => void;
}

/** How many times a JetStream set-up call (stream, consumer) is tried when JetStream does not answer in time. */
const SETUP_ATTEMPTS = 5;

/**
 * Replicas start together and a cluster may be electing leaders (a new
 * replicated stream takes a while to place): a set-up call that times out
 * is tried again, a few times, before the service gives up.
 */
async function retryOnTimeout(call: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await call();
      return;
    } catch (error) {
      if (attempt >= SETUP_ATTEMPTS || classifyNatsError(error) !== 'timeout') throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

/** The stream (or, for a consumer call, the consumer or its stream) does not exist yet. */
function isNotFound(error: unknown): boolean {
  const failure = classifyNatsError(error);
  return failure === 'stream-not-found' || failure === 'consumer-not-found';
}

function toNatsHeaders(record: Readonly<Record<string, string>>): MsgHdrs {
  const h = natsHeaders();
  for (const [key, value] of Object.entries(record)) h.set(key, value);
  return h;
}

/** A message's headers as a plain record (the first value of each). */
function fromNatsHeaders(h: MsgHdrs | undefined): Record<string, string> {
  const record: Record<string, string> = {};
  if (h !== undefined) for (const [key, values] of h) record[key] = values[0] ?? '';
  return record;
}

/** `MessageBus` over NATS core (request/reply, queue groups) and JetStream. */
export class NatsBus implements MessageBus {
  readonly kind = 'nats' as const;
  private readonly subscriptions = new Set<Subscription>();

  private constructor(
    private readonly connection: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly options: NatsBusOptions,
  ) {}

  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    const connection = await connect({
      // A cluster's seed servers, comma-separated; the client learns the rest of the cluster from them.
      servers: options.url.split(',').map((s) => s.trim()),
      name: options.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      // nats.js otherwise builds an Error (a stack capture) for every request
      // in case it fails: measured at ~3% of the gateway's CPU.
      noAsyncTraces: true,
    });
    const jsm = await jetstreamManager(connection);
    return new NatsBus(connection, jetstream(connection), jsm, options);
  }

  private subject(subject: string): string {
    return withPrefix(this.options.prefix, subject);
  }

  async request(subject: string, data: Uint8Array, timeoutMs: number, headers: Readonly<Record<string, string>> = {}): Promise<Uint8Array> {
    try {
      const reply = await this.connection.request(this.subject(subject), data, {
        timeout: timeoutMs,
        ...(Object.keys(headers).length === 0 ? {} : { headers: toNatsHeaders(headers) }),
      });
      return reply.data;
    } catch (error) {
      const failure = classifyNatsError(error);
      if (failure === 'no-responders') throw BusError.noResponders(subject);
      if (failure === 'timeout') throw BusError.timeout(subject, timeoutMs);
      throw new BusError(ErrorCode.unavailable, `request on ${subject} failed`, { cause: error });
    }
  }

  serve(subject: string, queue: string, handler: RawHandler): Closable {
    const subscription = this.connection.subscribe(this.subject(subject), {
      queue,
      callback: (error, message) => {
        if (error !== null) {
          this.options.onError(error);
          return;
        }
        handler(message.data, fromNatsHeaders(message.headers)).then(
          (reply) => message.respond(reply),
          (handlerError: unknown) => this.options.onError(handlerError),
        );
      },
    });
    this.subscriptions.add(subscription);
    return {
      close: async () => {
        this.subscriptions.delete(subscription);
        await subscription.drain();
      },
    };
  }

  async ensureStream(options: StreamOptions): Promise<void> {
    const config = this.streamConfig(options);
    await retryOnTimeout(async () => {
      try {
        await this.jsm.streams.info(config.name);
        await this.jsm.streams.update(config.name, config);
      } catch (error) {
        if (!isNotFound(error)) throw error;
        await this.jsm.streams.add(config);
      }
    });
  }

  async joinStream(options: StreamOptions): Promise<JoinedStream> {
    const config = this.streamConfig(options);
    let joined: { created: boolean; config: Pick<StreamConfig, 'subjects' | 'max_age' | 'duplicate_window'> } | undefined;
    await retryOnTimeout(async () => {
      try {
        joined = { created: false, config: (await this.jsm.streams.info(config.name)).config };
      } catch (error) {
        if (!isNotFound(error)) throw error;
        // Two services may create it at once; JetStream answers an identical add with the stream, and a different
        // one (its owner's settings) with an error, after which the stream is read as it stands.
        try {
          joined = { created: true, config: (await this.jsm.streams.add(config)).config };
        } catch (addError) {
          if (classifyNatsError(addError) !== 'stream-name-in-use') throw addError;
          joined = { created: false, config: (await this.jsm.streams.info(config.name)).config };
        }
      }
    });
    const found = joined!.config;
    const missing = config.subjects.filter((s) => !(found.subjects ?? []).includes(s));
    if (missing.length > 0) {
      throw new BusError(ErrorCode.unavailable, `stream ${config.name} does not capture ${missing.join(', ')}`);
    }
    return { created: joined!.created, maxAgeMs: found.max_age / NANOS_PER_MS, duplicateWindowMs: found.duplicate_window / NANOS_PER_MS };
  }

  private streamConfig(options: StreamOptions): Pick<StreamConfig, 'name' | 'max_age' | 'duplicate_window' | 'num_replicas'> & {
    subjects: string[];
  } {
    return {
      name: streamName(this.options.prefix, options.name),
      subjects: options.subjects.map((s) => this.subject(s)),
      max_age: options.maxAgeMs * NANOS_PER_MS,
      duplicate_window: options.duplicateWindowMs * NANOS_PER_MS,
      num_replicas: this.options.streamReplicas ?? 1,
    };
  }

  async publishDurable(subject: string, data: Uint8Array, options: PublishOptions): Promise<{ duplicate: boolean }> {
    const h = toNatsHeaders(options.headers ?? {});
    try {
      const ack = await this.js.publish(this.subject(subject), data, { msgID: options.msgId, headers: h });
      return { duplicate: ack.duplicate };
    } catch (error) {
      throw new BusError(ErrorCode.unavailable, `durable publish on ${subject} failed`, { cause: error });
    }
  }

  async consumeDurable(options: DurableConsumerOptions, onMessage: (message: DurableMessage) => void): Promise<Closable> {
    const stream = streamName(this.options.prefix, options.stream);
    const config = {
      durable_name: options.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: this.subject(options.filterSubject),
      max_ack_pending: options.maxAckPending,
      ack_wait: options.ackWaitMs * NANOS_PER_MS,
    };
    await retryOnTimeout(async () => {
      try {
        await this.jsm.consumers.info(stream, options.durable);
        await this.jsm.consumers.update(stream, options.durable, config);
      } catch (error) {
        if (!isNotFound(error)) throw error;
        await this.jsm.consumers.add(stream, config);
      }
    });
    const consumer = await this.js.consumers.get(stream, options.durable);
    const messages = await consumer.consume({
      max_messages: Math.min(options.maxAckPending, 10_000),
      callback: (m) => {
        onMessage({
          subject: m.subject,
          data: m.data,
          headers: fromNatsHeaders(m.headers),
          streamSequence: m.seq,
          deliveryCount: m.info.deliveryCount,
          ack: () => m.ack(),
          nak: (delayMs?: number) => m.nak(delayMs),
          term: () => m.term(),
        });
      },
    });
    return {
      close: async () => {
        await messages.close();
      },
    };
  }

  async broadcast(subject: string, data: Uint8Array): Promise<void> {
    this.connection.publish(this.subject(subject), data);
    // Flushed so the event has left this process when the caller goes on.
    await this.connection.flush();
  }

  async listen(subject: string, handler: (data: Uint8Array) => void): Promise<Closable> {
    const subscription = this.connection.subscribe(this.subject(subject), {
      callback: (error, message) => {
        if (error !== null) this.options.onError(error);
        else handler(message.data);
      },
    });
    this.subscriptions.add(subscription);
    // A round trip to the server: after it, the subscription is registered and sees every later event.
    await this.connection.flush();
    return {
      close: async () => {
        this.subscriptions.delete(subscription);
        await subscription.drain();
      },
    };
  }

  async drain(): Promise<void> {
    if (this.connection.isClosed()) return;
    await this.connection.drain();
  }
}
