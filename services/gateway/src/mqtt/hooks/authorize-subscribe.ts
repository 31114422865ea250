import type { Logger } from '@rampart/service-kit';
import { authorizeDeviceSubscribe } from '../device-acl.js';
import type { MqttMetrics } from '../metrics.js';
import type { BrokerHooks } from '../broker.js';
import type { DeviceConnections } from '../connections.js';
import { DENIAL_RESPONSES, DenialError, SUBACK_FAILURE } from '../denials.js';

export interface AuthorizeSubscribeDeps {
  readonly connections: DeviceConnections;
  readonly metrics: MqttMetrics;
  readonly logger: Logger;
}

/** A device subscribes only inside its own namespace, to the areas its credential allows. */
export function authorizeSubscribeHook({ connections, metrics, logger }: AuthorizeSubscribeDeps): BrokerHooks['authorizeSubscribe'] {
  return (client, subscription, callback) => {
    const decision = authorizeDeviceSubscribe(client.id, subscription.topic, connections.info(client)?.credential ?? 'identity');
    if (decision.allowed) {
      callback(null, subscription);
      return;
    }
    metrics.denied(decision.reason);
    logger.warn({ deviceId: client.id, filter: subscription.topic, reason: decision.reason }, 'subscription refused');
    if (DENIAL_RESPONSES[decision.reason].suback === SUBACK_FAILURE) {
      // [MQTT-3.9.3]: 0x80 in the SUBACK refuses this filter; the session goes on. (Aedes answers a null subscription with it.)
      callback(null, null);
      return;
    }
    // A reason with no SUBACK code closes the connection instead.
    callback(new DenialError(decision.reason, `subscription to ${subscription.topic} refused`));
  };
}
