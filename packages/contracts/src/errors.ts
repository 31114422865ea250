/**
 * Every error code that crosses a process boundary, listed once. On the wire an error is `{ code, message }`;
 * any code a receiver does not know maps to `INTERNAL`. What each code means at each edge is `ERROR_TABLE`.
 */
export const ErrorCode = {
  badRequest: 'BAD_REQUEST',
  /** No valid credential (an operator's bearer token). */
  unauthenticated: 'UNAUTHENTICATED',
  /** A valid credential that lacks the right (role, tenant, or a route that declares no requirement). */
  forbidden: 'FORBIDDEN',
  notFound: 'NOT_FOUND',
  /** The request clashes with the current state: a name taken, a state that forbids the transition. */
  conflict: 'CONFLICT',
  /** An uploaded image is not a well-formed, correctly signed Rampart image. */
  imageRejected: 'IMAGE_REJECTED',
  /**
   * The tenant's update repository has no root yet: its root keys are offline (KEYS_PROVIDER=pkcs11) and no
   * offline-signed root was imported. Nothing can be released to it, nor served to its devices, until one is.
   */
  tufRootMissing: 'TUF_ROOT_MISSING',
  /** An offered TUF root was refused (signatures, threshold, version, or online keys that are not the platform's). */
  rootRejected: 'ROOT_REJECTED',
  unavailable: 'UNAVAILABLE',
  timeout: 'TIMEOUT',
  /** A service behind the API front answered with something that is not an answer (a reset, a broken body). */
  badGateway: 'BAD_GATEWAY',
  /** The caller (a device identity) asked more often than its limit allows; try again later. */
  rateLimited: 'RATE_LIMITED',
  internal: 'INTERNAL',
  // The update server's answers to devices (HTTPS, operational or identity certificate).
  /** The device is revoked. */
  revoked: 'REVOKED',
  /** The operational certificate is older than a fresh attestation may be. */
  staleAttestation: 'STALE_ATTESTATION',
  /** A manufacturer identity certificate reaches only the recovery path. */
  recoveryOnly: 'RECOVERY_ONLY',
  /** The device has no recovery grant: it must attest. */
  notRecoverable: 'NOT_RECOVERABLE',
  /** The path exists but not for this method (devices only read, and report on one path; the API front's own routes). */
  methodNotAllowed: 'METHOD',
  payloadTooLarge: 'TOO_LARGE',
  /** A device's report does not parse. */
  malformed: 'MALFORMED',
  /** A Range header the server does not serve. */
  rangeNotSatisfiable: 'RANGE',
  // The update server's refusals of a device's TLS client certificate (after TLS verified its chain).
  noCertificate: 'NO_CERTIFICATE',
  notClientAuth: 'NOT_CLIENT_AUTH',
  /** The subject does not name the device its key belongs to. */
  subjectMismatch: 'SUBJECT_MISMATCH',
  /** An operational certificate that does not name exactly one tenant, or arrived without its tenant CA. */
  wrongTenant: 'WRONG_TENANT',
  invalidCertificate: 'INVALID',
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * MQTT 5 reason codes [MQTT-2.4] that name the outcome of a code a device meets over MQTT. The gateway speaks
 * MQTT 3.1.1, whose PUBACK carries no reason, so a device learns the outcome from the `{ type: 'error', code }`
 * answer on `devices/<id>/attest/response`; the reason code says what that code means in MQTT's terms.
 */
export const MqttReason = {
  unspecifiedError: 0x80,
  serverBusy: 0x89,
  quotaExceeded: 0x97,
  payloadFormatInvalid: 0x99,
} as const;
export type MqttReasonValue = (typeof MqttReason)[keyof typeof MqttReason];

export interface ErrorTableEntry {
  /** The status an HTTP edge answers with. */
  readonly status: number;
  /** Present when a device can receive the code over MQTT (see `MqttReason`); any other code reaches it as INTERNAL. */
  readonly mqtt?: MqttReasonValue;
}

/**
 * The one mapping from a wire code to each edge's answer: code → HTTP status → MQTT reason. Where codes share a
 * status, the general one comes first (BAD_REQUEST before MALFORMED, FORBIDDEN before REVOKED): a status that no
 * code of ours produced reads back as the first code with it (see `errorCodeOfHttpStatus`).
 */
export const ERROR_TABLE = {
  BAD_REQUEST: { status: 400, mqtt: MqttReason.payloadFormatInvalid },
  UNAUTHENTICATED: { status: 401 },
  FORBIDDEN: { status: 403 },
  NOT_FOUND: { status: 404 },
  CONFLICT: { status: 409 },
  IMAGE_REJECTED: { status: 400 },
  UNAVAILABLE: { status: 503, mqtt: MqttReason.serverBusy },
  TIMEOUT: { status: 504, mqtt: MqttReason.serverBusy },
  BAD_GATEWAY: { status: 502 },
  RATE_LIMITED: { status: 429, mqtt: MqttReason.quotaExceeded },
  INTERNAL: { status: 500, mqtt: MqttReason.unspecifiedError },
  REVOKED: { status: 403 },
  STALE_ATTESTATION: { status: 403 },
  RECOVERY_ONLY: { status: 403 },
  NOT_RECOVERABLE: { status: 403 },
  METHOD: { status: 405 },
  TOO_LARGE: { status: 413 },
  MALFORMED: { status: 400 },
  RANGE: { status: 416 },
  NO_CERTIFICATE: { status: 403 },
  NOT_CLIENT_AUTH: { status: 403 },
  SUBJECT_MISMATCH: { status: 403 },
  WRONG_TENANT: { status: 403 },
  INVALID: { status: 403 },
  // After the general code of each status (CONFLICT, BAD_REQUEST): a framework's bare status reads as that.
  TUF_ROOT_MISSING: { status: 409 },
  ROOT_REJECTED: { status: 400 },
} as const satisfies { readonly [C in ErrorCodeValue]: ErrorTableEntry };

/** The HTTP status for a code. */
export function httpStatusOf(code: ErrorCodeValue): number {
  return ERROR_TABLE[code].status;
}

const GENERAL_CODE_OF_STATUS: ReadonlyMap<number, ErrorCodeValue> = (() => {
  const byStatus = new Map<number, ErrorCodeValue>();
  for (const [code, entry] of Object.entries(ERROR_TABLE) as Array<[ErrorCodeValue, ErrorTableEntry]>) {
    if (!byStatus.has(entry.status)) byStatus.set(entry.status, code);
  }
  return byStatus;
})();

/**
 * The code for an HTTP error status that no code of ours chose — a framework's own answer, such as the 404 for an
 * unknown route or the 413 for a body over the limit: the table's general code for that status. A status the table
 * does not hold still says whose fault it was: a 4xx reads as BAD_REQUEST, anything else as INTERNAL.
 */
export function errorCodeOfHttpStatus(status: number): ErrorCodeValue {
  return GENERAL_CODE_OF_STATUS.get(status) ?? (status >= 400 && status < 500 ? ErrorCode.badRequest : ErrorCode.internal);
}

/** The codes a device may receive over MQTT: those with an MQTT reason in the table. */
export type DeviceErrorCode = {
  [C in ErrorCodeValue]: (typeof ERROR_TABLE)[C] extends { readonly mqtt: MqttReasonValue } ? C : never;
}[ErrorCodeValue];

/** A code as a device may see it over MQTT: one the table gives no MQTT reason says nothing a device can act on, so INTERNAL. */
export function toDeviceErrorCode(code: ErrorCodeValue): DeviceErrorCode {
  const entry: ErrorTableEntry = ERROR_TABLE[code];
  return entry.mqtt === undefined ? ErrorCode.internal : (code as DeviceErrorCode);
}

export interface WireError {
  readonly code: ErrorCodeValue;
  readonly message: string;
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

export function isErrorCode(code: unknown): code is ErrorCodeValue {
  return typeof code === 'string' && KNOWN_CODES.has(code);
}

export function toWireErrorCode(code: unknown): ErrorCodeValue {
  return isErrorCode(code) ? code : ErrorCode.internal;
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
