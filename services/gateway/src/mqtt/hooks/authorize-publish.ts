import type { Logger } from '@rampart/service-kit';
import type { Admission } from '../admission.js';
import type { MqttMetrics } from '../metrics.js';
import type { BrokerHooks } from '../broker.js';
import type { DeviceConnections } from '../connections.js';
import { DENIAL_RESPONSES, DenialError } from '../denials.js';
import type { PublishRoutes } from '../publish/routes.js';
import { acl, admit, stripRetain, type AdmitTimer } from '../publish/steps.js';
import type { RefusalSummary } from '../refusal-summary.js';

export interface AuthorizePublishDeps {
  readonly connections: DeviceConnections;
  readonly routes: PublishRoutes;
  readonly admission: Admission;
  readonly refusals: RefusalSummary;
  readonly metrics: MqttMetrics;
  readonly logger: Logger;
  readonly timer: AdmitTimer;
}

/**
 * The publish path: acl → stripRetain → admit → route. Order matters: ACL,
 * then limits, then payload, then the stream. Only after the stream has
 * stored the reading does Aedes send PUBACK, so an acknowledged reading is
 * never lost.
 */
export function authorizePublishHook({
  connections,
  routes,
  admission,
  refusals,
  metrics,
  logger,
  timer,
}: AuthorizePublishDeps): BrokerHooks['authorizePublish'] {
  return (client, packet, callback) => {
    if (client === null) {
      callback(new Error('broker-originated publishes are not accepted'));
      return;
    }
    const info = connections.info(client);
    if (info === undefined) {
      callback(new Error('unknown connection'));
      return;
    }
    const decision = acl(client.id, packet.topic, info.credential);
    if (!decision.allowed) {
      // [MQTT-3.3.5-2]: 3.1.1 has no way to refuse a PUBLISH but to close the connection.
      metrics.denied(decision.reason);
      logger.warn({ deviceId: client.id, topic: packet.topic, reason: decision.reason }, 'publish refused');
      callback(
        DENIAL_RESPONSES[decision.reason].closesConnection ? new DenialError(decision.reason, `publish to ${packet.topic} refused`) : null,
      );
      return;
    }
    metrics.messageIn(decision.kind);
    const retainRefused = stripRetain(packet);
    if (retainRefused !== undefined) metrics.denied(retainRefused);
    const route = routes[decision.kind];
    if (!route.admitted) {
      route.deliver(client, info, packet, callback);
      return;
    }
    admit(info.bucket, packet.qos, admission, timer).then(
      (shed) => {
        if (shed !== undefined) {
          // Shed: acknowledged per QoS and discarded [MQTT-3.3.5-2].
          refusals.shed(shed);
          callback(null);
          return;
        }
        route.deliver(client, info, packet, callback);
      },
      (error: unknown) => callback(error as Error),
    );
  };
}
