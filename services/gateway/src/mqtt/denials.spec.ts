import { DenialReason, type DenialReasonValue } from '@rampart/contracts';
import { describe, expect, it } from 'vitest';
import { ConnackRefusal, DENIAL_RESPONSES, DenialError, SUBACK_FAILURE, connackRefusal, type DenialResponse } from './denials.js';

const closedWithoutConnack: DenialResponse = { connack: null, suback: null, closesConnection: true };
const refusedFilter: DenialResponse = { connack: null, suback: 0x80, closesConnection: true };
const keptOpen: DenialResponse = { connack: null, suback: null, closesConnection: false };

/** Written out by hand from MQTT 3.1.1 and the gateway's behaviour, so a change to the table has to change this too. */
const expected: Record<DenialReasonValue, DenialResponse> = {
  not_authenticated: { connack: 0x05, suback: null, closesConnection: true },
  client_id_mismatch: { connack: 0x02, suback: null, closesConnection: true },
  topic_not_allowed: refusedFilter,
  unknown_topic: refusedFilter,
  not_attested: refusedFilter,
  retain_refused: keptOpen,
  malformed_payload: keptOpen,
  clock_skew: keptOpen,
  packet_too_large: closedWithoutConnack,
  connect_timeout: closedWithoutConnack,
  handshake_timeout: closedWithoutConnack,
  certificate_missing: closedWithoutConnack,
  certificate_expired: closedWithoutConnack,
  certificate_untrusted: closedWithoutConnack,
  certificate_invalid: closedWithoutConnack,
  tls_handshake_failed: closedWithoutConnack,
  keepalive_timeout: closedWithoutConnack,
  unsupported_protocol: { connack: 0x01, suback: null, closesConnection: true },
  rate_limited: keptOpen,
  overloaded: { connack: 0x03, suback: null, closesConnection: true },
  protocol_error: closedWithoutConnack,
  device_revoked: { connack: 0x05, suback: null, closesConnection: true },
  wrong_tenant: closedWithoutConnack,
};

describe('DENIAL_RESPONSES', () => {
  it('has one answer for every denial reason the contracts define', () => {
    expect(Object.keys(DENIAL_RESPONSES).sort()).toEqual(Object.values(DenialReason).sort());
  });

  it.each(Object.values(DenialReason))('answers %s as MQTT 3.1.1 allows', (reason) => {
    expect(DENIAL_RESPONSES[reason]).toEqual(expected[reason]);
  });

  it('uses only the CONNACK refusal codes of MQTT 3.1.1 (0x01–0x05) [MQTT-3.2.2.3]', () => {
    for (const { connack } of Object.values<DenialResponse>(DENIAL_RESPONSES)) {
      if (connack !== null) expect(connack).toBeGreaterThanOrEqual(0x01);
      if (connack !== null) expect(connack).toBeLessThanOrEqual(0x05);
    }
  });

  it('closes no connection for a refused subscription filter: it gets SUBACK 0x80 [MQTT-3.9.3]', () => {
    const filterReasons = Object.entries<DenialResponse>(DENIAL_RESPONSES).filter(([, r]) => r.suback !== null);
    expect(filterReasons.map(([reason]) => reason).sort()).toEqual(
      [DenialReason.topicNotAllowed, DenialReason.unknownTopic, DenialReason.notAttested].sort(),
    );
    for (const [, response] of filterReasons) expect(response.suback).toBe(SUBACK_FAILURE);
  });
});

describe(connackRefusal.name, () => {
  it.each([
    [DenialReason.notAuthenticated, ConnackRefusal.notAuthorized],
    [DenialReason.deviceRevoked, ConnackRefusal.notAuthorized],
    [DenialReason.clientIdMismatch, ConnackRefusal.identifierRejected],
    [DenialReason.unsupportedProtocol, ConnackRefusal.unacceptableProtocol],
    [DenialReason.overloaded, ConnackRefusal.serverUnavailable],
  ] as const)('gives Aedes the CONNACK code of %s (%i) and marks it as counted', (reason, code) => {
    const error = connackRefusal(reason, 'refused');
    expect(error.returnCode).toBe(code);
    expect(error).toBeInstanceOf(DenialError);
    expect(error.reason).toBe(reason);
    expect(error.message).toBe('refused');
  });
});
