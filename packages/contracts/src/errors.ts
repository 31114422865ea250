/**
 * Error codes that cross a process boundary. On the wire an error is
 * `{ code, message }`; any code a receiver does not know maps to `INTERNAL`.
 */
export const ErrorCode = {
  badRequest: 'BAD_REQUEST',
  notFound: 'NOT_FOUND',
  unavailable: 'UNAVAILABLE',
  timeout: 'TIMEOUT',
  /** The caller (a device identity) asked more often than its limit allows; try again later. */
  rateLimited: 'RATE_LIMITED',
  internal: 'INTERNAL',
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface WireError {
  readonly code: ErrorCodeValue;
  readonly message: string;
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

export function toWireErrorCode(code: unknown): ErrorCodeValue {
  return typeof code === 'string' && KNOWN_CODES.has(code) ? (code as ErrorCodeValue) : ErrorCode.internal;
}

/** Reasons the gateway refuses something a device sent; each is a metric label. */
export const DenialReason = {
  notAuthenticated: 'not_authenticated',
  clientIdMismatch: 'client_id_mismatch',
  topicNotAllowed: 'topic_not_allowed',
  unknownTopic: 'unknown_topic',
  retainRefused: 'retain_refused',
  malformedPayload: 'malformed_payload',
  clockSkew: 'clock_skew',
  packetTooLarge: 'packet_too_large',
  connectTimeout: 'connect_timeout',
  /** A socket that did not finish the TLS handshake in time (CONNECT_TIMEOUT_MS); the server closes it. */
  handshakeTimeout: 'handshake_timeout',
  /** The TLS client sent no certificate (OpenSSL refuses it with the alert TLS defines). */
  certificateMissing: 'certificate_missing',
  /** The client certificate is outside its validity period. */
  certificateExpired: 'certificate_expired',
  /** The client certificate does not chain to a trusted root: unknown CA, missing intermediate, bad signature. */
  certificateUntrusted: 'certificate_untrusted',
  /** Any other verification failure (e.g. not for client authentication). */
  certificateInvalid: 'certificate_invalid',
  /** The handshake failed otherwise: no shared cipher or version, garbage, or the peer hung up. */
  tlsHandshakeFailed: 'tls_handshake_failed',
  /** No PINGREQ or other packet within 1.5 × the keepalive the client asked for [MQTT-3.1.2-24]. */
  keepaliveTimeout: 'keepalive_timeout',
  /** A CONNECT for another protocol than MQTT 3.1.1 (MQTT 3.1 "MQIsdp", MQTT 5): CONNACK 0x01 [MQTT-3.1.2-2]. */
  unsupportedProtocol: 'unsupported_protocol',
  rateLimited: 'rate_limited',
  overloaded: 'overloaded',
  protocolError: 'protocol_error',
  /** Only attestation is open to a device on its manufacturer identity. */
  notAttested: 'not_attested',
  deviceRevoked: 'device_revoked',
  /** An operational certificate whose tenant is not its issuing CA's, or a tenant this gateway does not serve. */
  wrongTenant: 'wrong_tenant',
} as const;
export type DenialReasonValue = (typeof DenialReason)[keyof typeof DenialReason];
