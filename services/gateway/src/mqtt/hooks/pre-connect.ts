import type { ConnectPacket } from 'aedes';
import type { Logger } from '@rampart/service-kit';
import { acl } from '../publish/steps.js';
import type { MqttMetrics } from '../metrics.js';
import type { BrokerHooks } from '../broker.js';
import type { DeviceConnections } from '../connections.js';
import { DenialError } from '../denials.js';

export interface PreConnectDeps {
  readonly connections: DeviceConnections;
  readonly metrics: MqttMetrics;
  readonly logger: Logger;
}

/**
 * Protocol version and the will message's ACL, before authentication. A refusal here closes the connection without a
 * CONNACK (Aedes answers a preConnect error so), as DENIAL_RESPONSES says.
 */
export function preConnectHook({ connections, metrics, logger }: PreConnectDeps): BrokerHooks['preConnect'] {
  return (client, packet, callback) => {
    if (packet.protocolId !== 'MQTT' || packet.protocolVersion !== 4) {
      // MQTT 3.1.1 only (README, "Security notes"). Aedes itself accepts 3.1 ("MQIsdp", level 3) and answers any
      // level outside 3–4 with CONNACK 0x01 before closing, as [MQTT-3.1.2-2] requires; marking the level as one
      // it refuses sends MQTT 3.1 down that same path. Counted in client-error.ts, with MQTT 5's refusals.
      packet.protocolVersion = 0 as ConnectPacket['protocolVersion'];
      callback(null, true);
      return;
    }
    // A will is a publish the device arranges in advance; it obeys the same
    // ACL, checked now so a forbidden will never waits in the broker.
    const will = packet.will;
    if (will !== undefined && will !== null) {
      const decision = acl(packet.clientId, will.topic, connections.info(client)?.credential ?? 'identity');
      if (!decision.allowed) {
        metrics.connectionRefused(decision.reason);
        logger.warn({ clientId: packet.clientId, topic: will.topic, reason: decision.reason }, 'will refused');
        callback(new DenialError(decision.reason, 'will topic not allowed'), false);
        return;
      }
    }
    callback(null, true);
  };
}
