export { BusError } from './bus-error.js';
export { InProcessBus } from './in-process-bus.js';
export { NatsBus } from './nats-bus.js';
export type { NatsBusOptions } from './nats-bus.js';
export type {
  Closable,
  DurableConsumerOptions,
  DurableMessage,
  JoinedStream,
  MessageBus,
  PublishOptions,
  RawHandler,
  StreamOptions,
} from './message-bus.js';
export { openStream } from './open-stream.js';
export type { StreamLimits } from './open-stream.js';
export { subjectMatches } from './subject-match.js';
export { TypedBus } from './typed-bus.js';
export { BusTransport } from './bus-transport.js';
