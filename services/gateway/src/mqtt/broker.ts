import { Aedes, type AedesOptions } from 'aedes';
import type { MqttLimits } from './limits.js';

/** Aedes routes this many messages concurrently; our admission bounds what reaches it. */
const AEDES_CONCURRENCY = 1_000;
/** Device ids are 64 hex characters, longer than MQTT 3.1's 23. */
const MAX_CLIENT_ID_LENGTH = 64;
const MAX_TOPIC_LEVELS = 8;
const QUEUE_LIMIT = 16;

/** The extension points the gateway fills; each is one file in `hooks/`. */
export type BrokerHooks = Required<
  Pick<AedesOptions, 'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward'>
>;

/** The embedded Aedes broker with the gateway's limits and hooks. */
export function createBroker(limits: Pick<MqttLimits, 'connectTimeoutMs'>, hooks: BrokerHooks): Promise<Aedes> {
  return Aedes.createBroker({
    concurrency: AEDES_CONCURRENCY,
    connectTimeout: limits.connectTimeoutMs,
    maxClientsIdLength: MAX_CLIENT_ID_LENGTH,
    maxTopicLevels: MAX_TOPIC_LEVELS,
    queueLimit: QUEUE_LIMIT,
    ...hooks,
  });
}
