import { describe, expect, it } from 'vitest';
import { ERROR_TABLE, ErrorCode, MqttReason, errorCodeOfHttpStatus, httpStatusOf, toDeviceErrorCode, toWireErrorCode } from './errors.js';

const CODES = Object.values(ErrorCode);

describe('ERROR_TABLE', () => {
  it('lists every error code once, each with an HTTP error status', () => {
    expect(Object.keys(ERROR_TABLE).sort()).toEqual([...CODES].sort());
    expect(new Set(CODES).size).toBe(CODES.length);
    for (const code of CODES) {
      expect(httpStatusOf(code), code).toBeGreaterThanOrEqual(400);
      expect(httpStatusOf(code), code).toBeLessThan(600);
    }
  });

  it('gives an MQTT reason to the codes the gateway passes on to a device, and to INTERNAL, which any other becomes', () => {
    expect(ERROR_TABLE.RATE_LIMITED.mqtt).toBe(MqttReason.quotaExceeded);
    expect(ERROR_TABLE.INTERNAL.mqtt).toBe(MqttReason.unspecifiedError);
    for (const code of [ErrorCode.badRequest, ErrorCode.unavailable, ErrorCode.timeout, ErrorCode.rateLimited]) {
      expect(toDeviceErrorCode(code)).toBe(code);
    }
    expect(toDeviceErrorCode(ErrorCode.conflict)).toBe(ErrorCode.internal);
    expect(toDeviceErrorCode(ErrorCode.revoked)).toBe(ErrorCode.internal);
  });

  it('reads an unknown code from the wire as INTERNAL', () => {
    expect(toWireErrorCode('CONFLICT')).toBe(ErrorCode.conflict);
    expect(toWireErrorCode('NO_SUCH_CODE')).toBe(ErrorCode.internal);
    expect(toWireErrorCode(404)).toBe(ErrorCode.internal);
  });

  it("reads a status no code chose (a framework's own answer) as the table's general code for it", () => {
    expect(errorCodeOfHttpStatus(400)).toBe(ErrorCode.badRequest);
    expect(errorCodeOfHttpStatus(401)).toBe(ErrorCode.unauthenticated);
    expect(errorCodeOfHttpStatus(403)).toBe(ErrorCode.forbidden);
    expect(errorCodeOfHttpStatus(404)).toBe(ErrorCode.notFound);
    expect(errorCodeOfHttpStatus(405)).toBe(ErrorCode.methodNotAllowed);
    expect(errorCodeOfHttpStatus(413)).toBe(ErrorCode.payloadTooLarge);
    expect(errorCodeOfHttpStatus(502)).toBe(ErrorCode.badGateway);
    expect(errorCodeOfHttpStatus(503)).toBe(ErrorCode.unavailable);
    expect(errorCodeOfHttpStatus(504)).toBe(ErrorCode.timeout);
  });

  it('reads a status the table does not hold by its class: 4xx as BAD_REQUEST, any other as INTERNAL', () => {
    expect(errorCodeOfHttpStatus(418)).toBe(ErrorCode.badRequest);
    expect(errorCodeOfHttpStatus(431)).toBe(ErrorCode.badRequest);
    expect(errorCodeOfHttpStatus(501)).toBe(ErrorCode.internal);
    expect(errorCodeOfHttpStatus(200)).toBe(ErrorCode.internal);
  });
});
