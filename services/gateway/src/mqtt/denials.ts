import type { AuthenticateError } from 'aedes';
import { DenialReason, type DenialReasonValue } from '@rampart/contracts';

/** The CONNACK return codes that refuse a connection in MQTT 3.1.1 [MQTT-3.2.2.3]. */
export const ConnackRefusal = {
  unacceptableProtocol: 0x01,
  identifierRejected: 0x02,
  serverUnavailable: 0x03,
  // 0x04 (bad user name or password) is never sent: the certificate is the credential, user name and password are unused.
  notAuthorized: 0x05,
} as const;
export type ConnackRefusalCode = (typeof ConnackRefusal)[keyof typeof ConnackRefusal];

/** The SUBACK return code that refuses one topic filter [MQTT-3.9.3]. */
export const SUBACK_FAILURE = 0x80;

/** How a denial shows on the wire to the device it refuses. */
export interface DenialResponse {
  /**
   * The CONNACK code sent, before the connection closes, when this reason
   * refuses a CONNECT [MQTT-3.2.2-5]. null: it closes without one — refused
   * before MQTT starts (TLS, the socket limits), or in Aedes's preConnect,
   * which answers a refusal by closing. A reason that also refuses sockets
   * before MQTT (overloaded) closes those without a CONNACK all the same.
   */
  readonly connack: ConnackRefusalCode | null;
  /** The SUBACK code of a topic filter refused for this reason; null when the reason never refuses a subscription. */
  readonly suback: typeof SUBACK_FAILURE | null;
  /**
   * Whether the connection closes when this reason refuses a connection, a
   * PUBLISH or the bytes on the wire. 3.1.1 has no negative PUBACK
   * [MQTT-3.3.5-2], so a refused PUBLISH either closes the connection or is
   * acknowledged and dropped. A refused subscription filter never closes it:
   * it gets `suback` and the session goes on.
   */
  readonly closesConnection: boolean;
}

const closedBeforeMqtt = { connack: null, suback: null, closesConnection: true } as const;
const outsideTheAcl = { connack: null, suback: SUBACK_FAILURE, closesConnection: true } as const;
const acknowledgedAndDropped = { connack: null, suback: null, closesConnection: false } as const;

/** The one place a denial reason becomes an MQTT answer; every hook reads it instead of holding numbers of its own. */
export const DENIAL_RESPONSES = {
  [DenialReason.notAuthenticated]: { connack: ConnackRefusal.notAuthorized, suback: null, closesConnection: true },
  [DenialReason.clientIdMismatch]: { connack: ConnackRefusal.identifierRejected, suback: null, closesConnection: true },
  // A will on one of these closes the connection from preConnect (no CONNACK); a PUBLISH closes it; a filter gets 0x80.
  [DenialReason.topicNotAllowed]: outsideTheAcl,
  [DenialReason.unknownTopic]: outsideTheAcl,
  [DenialReason.notAttested]: outsideTheAcl,
  // The message goes on without its retain flag.
  [DenialReason.retainRefused]: acknowledgedAndDropped,
  [DenialReason.malformedPayload]: acknowledgedAndDropped,
  [DenialReason.clockSkew]: acknowledgedAndDropped,
  [DenialReason.packetTooLarge]: closedBeforeMqtt,
  [DenialReason.connectTimeout]: closedBeforeMqtt,
  [DenialReason.handshakeTimeout]: closedBeforeMqtt,
  [DenialReason.certificateMissing]: closedBeforeMqtt,
  [DenialReason.certificateExpired]: closedBeforeMqtt,
  [DenialReason.certificateUntrusted]: closedBeforeMqtt,
  [DenialReason.certificateInvalid]: closedBeforeMqtt,
  [DenialReason.tlsHandshakeFailed]: closedBeforeMqtt,
  [DenialReason.keepaliveTimeout]: closedBeforeMqtt,
  // Aedes sends this CONNACK itself, for a protocol level it refuses [MQTT-3.1.2-2].
  [DenialReason.unsupportedProtocol]: { connack: ConnackRefusal.unacceptableProtocol, suback: null, closesConnection: true },
  // Over a device's rate: a QoS 0 message is shed (and a QoS 1 one still without a token after its wait), an
  // attestation message gets an error answer on the device's response topic. Either way the session goes on.
  [DenialReason.rateLimited]: acknowledgedAndDropped,
  // Past the session limit, CONNACK 0x03 from authenticate, so the device backs off and retries later
  // [MQTT-3.2.2.3]; at the door (socket limits) the socket closes before MQTT starts, without one.
  [DenialReason.overloaded]: { connack: ConnackRefusal.serverUnavailable, suback: null, closesConnection: true },
  [DenialReason.protocolError]: closedBeforeMqtt,
  [DenialReason.deviceRevoked]: { connack: ConnackRefusal.notAuthorized, suback: null, closesConnection: true },
  [DenialReason.wrongTenant]: closedBeforeMqtt,
} as const satisfies Record<DenialReasonValue, DenialResponse>;

/** The reasons that refuse a CONNECT with a CONNACK code. */
export type ConnackDenialReason = {
  [R in DenialReasonValue]: (typeof DENIAL_RESPONSES)[R]['connack'] extends null ? never : R;
}[DenialReasonValue];

/**
 * A refusal the gateway decided, counted and logged where it was decided:
 * Aedes reports it back as a clientError, which is then known as counted.
 */
export class DenialError extends Error {
  override readonly name = 'DenialError';
  constructor(
    readonly reason: DenialReasonValue,
    message: string,
  ) {
    super(message);
  }
}

/** A refusal Aedes's authenticate step answers with the reason's CONNACK code before closing [MQTT-3.2.2-5]. */
export function connackRefusal(reason: ConnackDenialReason, message: string): DenialError & AuthenticateError {
  // AuthErrorCode is a const enum in Aedes's types; the numbers are MQTT's CONNACK codes [MQTT-3.2.2.3].
  // A DenialError, so that Aedes's clientError event for it is known as counted already.
  return Object.assign(new DenialError(reason, message), {
    returnCode: DENIAL_RESPONSES[reason].connack,
  });
}
