/** Limits that protect the MQTT layer from hostile or runaway devices; the gateway's config fills them. */
export interface MqttLimits {
  readonly maxPacketBytes: number;
  readonly connectTimeoutMs: number;
  /** Every open socket, from the TCP accept on (pre-handshake ones included). */
  readonly maxConnections: number;
  /** Of those, sockets that have not finished the TLS handshake. */
  readonly maxHandshaking: number;
  readonly deviceRatePerSec: number;
  readonly deviceRateBurst: number;
  readonly bridgeMaxInFlight: number;
  readonly bridgeMaxWaiting: number;
}
