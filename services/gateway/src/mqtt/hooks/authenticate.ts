import { DenialReason, isDeviceId } from '@rampart/contracts';
import { TokenBucket, type Clock, type Logger } from '@rampart/service-kit';
import type { MqttLimits } from '../limits.js';
import type { MqttMetrics } from '../metrics.js';
import type { BrokerHooks } from '../broker.js';
import type { DeviceConnections } from '../connections.js';
import { connackRefusal } from '../denials.js';
import type { RefusalSummary } from '../refusal-summary.js';

export interface AuthenticateDeps {
  readonly connections: DeviceConnections;
  readonly revocations: { isRevoked(deviceId: string): boolean };
  /** maxConnections: the sessions past CONNACK this gateway holds at most. */
  readonly limits: Pick<MqttLimits, 'deviceRatePerSec' | 'deviceRateBurst' | 'maxConnections'>;
  /** Counts (and summarises in the log) the connections refused because the gateway is full: they come in floods. */
  readonly refusals: Pick<RefusalSummary, 'sessionLimitReached'>;
  readonly metrics: MqttMetrics;
  readonly logger: Logger;
  readonly clock: Clock;
}

/**
 * The client id must be the device id its certificate proves [MQTT-3.1.3-2 leaves ids to the server].
 * Username and password are not used: the certificate is the credential.
 */
export function authenticateHook({
  connections,
  revocations,
  limits,
  refusals,
  metrics,
  logger,
  clock,
}: AuthenticateDeps): BrokerHooks['authenticate'] {
  return (client, _username, _password, callback) => {
    const info = connections.info(client);
    if (info === undefined) {
      // Every connection is attached before Aedes sees it; one without is refused, never let in unclassified.
      metrics.connectionRefused(DenialReason.notAuthenticated);
      logger.warn({ clientId: client.id, reason: DenialReason.notAuthenticated }, 'connection refused: not accepted by a listener');
      callback(connackRefusal(DenialReason.notAuthenticated, 'unknown connection'), false);
      return;
    }
    if (connections.sessionCount >= limits.maxConnections) {
      // CONNACK 0x03 (server unavailable), not a bare close: a device backs off and retries later instead of at once.
      refusals.sessionLimitReached();
      callback(connackRefusal(DenialReason.overloaded, 'connection limit reached'), false);
      return;
    }
    if (info.listener === 'tls') {
      // A revoked device keeps only its manufacturer identity: it may attest (and be refused), nothing more.
      if (info.credential === 'operational' && revocations.isRevoked(client.id)) {
        metrics.connectionRefused(DenialReason.deviceRevoked);
        logger.warn({ deviceId: client.id, reason: DenialReason.deviceRevoked }, 'revoked device refused');
        callback(connackRefusal(DenialReason.deviceRevoked, 'device revoked'), false);
        return;
      }
      if (client.id !== info.certifiedId) {
        metrics.connectionRefused(DenialReason.clientIdMismatch);
        logger.warn(
          { clientId: client.id, certified: info.certifiedId, reason: DenialReason.clientIdMismatch },
          'client id does not match certificate',
        );
        callback(connackRefusal(DenialReason.clientIdMismatch, 'client id does not match the certificate'), false);
        return;
      }
    } else if (!isDeviceId(client.id)) {
      metrics.connectionRefused(DenialReason.clientIdMismatch);
      logger.warn({ clientId: client.id, reason: DenialReason.clientIdMismatch }, 'client id is not a device id (development listener)');
      callback(connackRefusal(DenialReason.clientIdMismatch, 'client id is not a device id'), false);
      return;
    }
    info.bucket = new TokenBucket(limits.deviceRatePerSec, limits.deviceRateBurst, clock.now());
    callback(null, true);
  };
}
