import type { Client } from 'aedes';
import { DenialReason } from '@rampart/contracts';
import type { Logger } from '@rampart/service-kit';
import type { MqttMetrics } from './metrics.js';
import { DenialError } from './denials.js';

/**
 * Aedes's clientError and connectionError events: each closed connection
 * counted once, under why it closed. Errors are events here, never crashes.
 */
export function clientErrorHandler(metrics: MqttMetrics, logger: Logger): (client: Client | null, error: Error) => void {
  return (client, error) => {
    const message = error.message;
    if (/connect did not arrive in time/.test(message)) {
      metrics.denied(DenialReason.connectTimeout);
      logger.warn({ reason: DenialReason.connectTimeout }, 'connection closed: no CONNECT in time');
    } else if (/unacceptable protocol version/.test(message)) {
      metrics.connectionRefused(DenialReason.unsupportedProtocol);
      logger.warn({ reason: DenialReason.unsupportedProtocol }, 'connection refused: only MQTT 3.1.1 is spoken here (CONNACK 0x01)');
    } else if (/keep alive timeout/.test(message)) {
      // The device went quiet (a lost network, usually), not a protocol violation.
      metrics.denied(DenialReason.keepaliveTimeout);
      logger.info({ deviceId: client?.id, reason: DenialReason.keepaliveTimeout }, 'connection closed: keepalive expired');
    } else if (error instanceof DenialError) {
      // Already counted and logged where it was decided.
    } else if (!/ECONNRESET|EPIPE|premature close|write after end/i.test(message)) {
      metrics.denied(DenialReason.protocolError);
      logger.warn({ clientId: client?.id, err: message }, 'client error');
    }
  };
}
