import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { errors } from '@nats-io/transport-node';

/**
 * JSStreamNameExistErr: an add for a stream that exists with other settings (nats-server's errors.json; nats.js
 * names only a few JetStream codes).
 */
const STREAM_NAME_IN_USE = 10058;

/** What went wrong in a nats.js call, as far as the bus acts on it; `other` is passed on as it is. */
export type NatsFailure = 'no-responders' | 'timeout' | 'stream-not-found' | 'consumer-not-found' | 'stream-name-in-use' | 'other';

/**
 * Classifies a nats.js error by its class and JetStream error code, never by its message (which nats.js and the
 * server may reword). A request with no subscriber fails with a RequestError whose cause is a NoRespondersError;
 * one that waited too long with a TimeoutError; a JetStream API refusal with a JetStreamApiError carrying the
 * server's `err_code`.
 */
export function classifyNatsError(error: unknown): NatsFailure {
  if (error instanceof errors.NoRespondersError || (error instanceof errors.RequestError && error.isNoResponders())) return 'no-responders';
  if (error instanceof errors.TimeoutError) return 'timeout';
  if (error instanceof JetStreamApiError) {
    switch (error.code) {
      case JetStreamApiCodes.StreamNotFound:
        return 'stream-not-found';
      case JetStreamApiCodes.ConsumerNotFound:
        return 'consumer-not-found';
      case STREAM_NAME_IN_USE:
        return 'stream-name-in-use';
      default:
        return 'other';
    }
  }
  return 'other';
}
